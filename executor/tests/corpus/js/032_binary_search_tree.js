class BST {
  constructor() { this.root = null; this.count = 0; }
  insert(k) {
    const node = { k, l: null, r: null };
    if (!this.root) { this.root = node; this.count++; return; }
    let c = this.root;
    for (;;) {
      if (k === c.k) return;
      const side = k < c.k ? 'l' : 'r';
      if (!c[side]) { c[side] = node; this.count++; return; }
      c = c[side];
    }
  }
  *inorder(n = this.root) { if (n) { yield* this.inorder(n.l); yield n.k; yield* this.inorder(n.r); } }
  height(n = this.root) { return n ? 1 + Math.max(this.height(n.l), this.height(n.r)) : 0; }
  has(k) { let c = this.root; while (c) { if (c.k === k) return true; c = k < c.k ? c.l : c.r; } return false; }
}
const t = new BST();
[50, 30, 70, 20, 40, 60, 80, 30, 65].forEach(k => t.insert(k));
console.log([...t.inorder()].join(','), t.count, t.height(), t.has(65), t.has(66));
