class LRU {
  constructor(cap) { this.cap = cap; this.m = new Map(); }
  get(k) { if (!this.m.has(k)) return undefined; const v = this.m.get(k); this.m.delete(k); this.m.set(k, v); return v; }
  put(k, v) {
    this.m.delete(k); this.m.set(k, v);
    if (this.m.size > this.cap) { const oldest = this.m.keys().next().value; this.m.delete(oldest); console.log('evict', oldest); }
  }
}
const c = new LRU(2);
c.put('a', 1); c.put('b', 2);
console.log(c.get('a'));
c.put('c', 3);
console.log(c.get('b'), c.get('c'));
c.put('d', 4);
console.log([...c.m.keys()].join(','));
