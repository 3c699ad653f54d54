const compose = (...fns) => x => fns.reduceRight((acc, f) => f(acc), x);
const pipe = (...fns) => x => fns.reduce((acc, f) => f(acc), x);
const inc = x => x + 1, dbl = x => x * 2, sq = x => x * x;
console.log(compose(inc, dbl)(5), pipe(inc, dbl)(5), pipe(sq, inc, dbl)(3));
function curry(fn) {
  return function curried(...args) {
    return args.length >= fn.length ? fn(...args) : (...more) => curried(...args, ...more);
  };
}
const add3 = curry((a, b, c) => a + b + c);
console.log(add3(1)(2)(3), add3(1, 2)(3), add3(1)(2, 3));
function memo(fn) {
  const cache = new Map();
  return n => { if (!cache.has(n)) cache.set(n, fn(n)); return cache.get(n); };
}
const fib = memo(n => n < 2 ? n : fib(n - 1) + fib(n - 2));
console.log(fib(80));
const once = fn => { let done = false, r; return (...a) => done ? r : (done = true, r = fn(...a)); };
const init = once(() => { console.log('init ran'); return 42; });
console.log(init(), init());
