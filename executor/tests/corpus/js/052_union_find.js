class DSU {
  constructor(n) { this.p = Array.from({ length: n }, (_, i) => i); this.sz = new Array(n).fill(1); }
  find(x) { while (this.p[x] !== x) { this.p[x] = this.p[this.p[x]]; x = this.p[x]; } return x; }
  union(a, b) {
    a = this.find(a); b = this.find(b);
    if (a === b) return false;
    if (this.sz[a] < this.sz[b]) [a, b] = [b, a];
    this.p[b] = a; this.sz[a] += this.sz[b];
    return true;
  }
}
const edges = [[7, 0, 1], [5, 0, 3], [8, 1, 2], [9, 1, 3], [7, 1, 4], [5, 2, 4], [15, 3, 4], [6, 3, 5], [8, 4, 5], [11, 4, 6], [9, 5, 6]];
const dsu = new DSU(7);
let total = 0;
const used = [];
for (const [w, a, b] of edges.slice().sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2])) if (dsu.union(a, b)) { total += w; used.push(`${a}-${b}`); }
console.log(total, used.join(' '));
