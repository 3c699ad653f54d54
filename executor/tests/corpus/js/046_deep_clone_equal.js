function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every(k => deepEqual(a[k], b[k]));
}
function deepClone(o) {
  if (o === null || typeof o !== 'object') return o;
  if (Array.isArray(o)) return o.map(deepClone);
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, deepClone(v)]));
}
const orig = { a: [1, { b: 2 }], c: { d: { e: 'f' } } };
const cl = deepClone(orig);
cl.a[1].b = 99;
console.log(orig.a[1].b, cl.a[1].b, deepEqual(orig, deepClone(orig)), deepEqual(orig, cl));
console.log(deepEqual([1, [2]], [1, [2]]), deepEqual({ a: 1 }, { a: '1' }), deepEqual(null, {}));
