function* naturals() { let n = 1; while (true) yield n++; }
function* map(it, f) { for (const x of it) yield f(x); }
function* filter(it, p) { for (const x of it) if (p(x)) yield x; }
function* take(it, n) { if (n <= 0) return; for (const x of it) { yield x; if (--n === 0) return; } }
const result = [...take(filter(map(naturals(), x => x * x), x => x % 3 === 1), 6)];
console.log(result.join(','));
function* chunk(arr, n) { for (let i = 0; i < arr.length; i += n) yield arr.slice(i, i + n); }
console.log([...chunk([1, 2, 3, 4, 5, 6, 7], 3)].map(c => `[${c}]`).join(''));
const gen = naturals();
console.log(gen.next().value, gen.return(42).value, gen.next().done);
