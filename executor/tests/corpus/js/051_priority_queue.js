class MinHeap {
  constructor(cmp = (a, b) => a - b) { this.a = []; this.cmp = cmp; }
  get size() { return this.a.length; }
  push(x) {
    const a = this.a; a.push(x);
    let i = a.length - 1;
    while (i > 0) { const p = (i - 1) >> 1; if (this.cmp(a[i], a[p]) >= 0) break; [a[i], a[p]] = [a[p], a[i]]; i = p; }
  }
  pop() {
    const a = this.a, top = a[0], last = a.pop();
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && this.cmp(a[l], a[m]) < 0) m = l;
        if (r < a.length && this.cmp(a[r], a[m]) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]]; i = m;
      }
    }
    return top;
  }
}
const h = new MinHeap();
[5, 1, 8, 3, 9, 2, 7].forEach(x => h.push(x));
const out = [];
while (h.size) out.push(h.pop());
console.log(out.join(','));
function dijkstra(g, s) {
  const dist = { [s]: 0 }, pq = new MinHeap((x, y) => x[0] - y[0]);
  pq.push([0, s]);
  while (pq.size) {
    const [d, n] = pq.pop();
    if (d > dist[n]) continue;
    for (const [m, w] of g[n] || []) if (d + w < (dist[m] ?? Infinity)) { dist[m] = d + w; pq.push([d + w, m]); }
  }
  return dist;
}
const g = { A: [['B', 4], ['C', 1]], C: [['B', 2], ['D', 7]], B: [['D', 1]], D: [['E', 3]] };
const dd = dijkstra(g, 'A');
console.log(Object.keys(dd).sort().map(k => `${k}=${dd[k]}`).join(' '));
