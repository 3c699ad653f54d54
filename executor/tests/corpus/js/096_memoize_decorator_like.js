function memoize(fn) {
  const cache = new Map();
  const wrapped = function (...args) {
    const key = JSON.stringify(args);
    if (cache.has(key)) return cache.get(key);
    const r = fn.apply(this, args);
    cache.set(key, r);
    return r;
  };
  wrapped.cache = cache;
  return wrapped;
}
const slowSquare = memoize(n => { console.log('computing', n); return n * n; });
console.log(slowSquare(4), slowSquare(4), slowSquare(5), slowSquare.cache.size);
function logged(fn, name = fn.name) {
  return (...a) => { const r = fn(...a); console.log(`${name}(${a.join(', ')}) = ${r}`); return r; };
}
const add = logged(function add(a, b) { return a + b; });
add(2, 3);
console.log(add.length, typeof add);
