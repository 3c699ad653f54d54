function* range(start, end, step = 1) {
  for (let i = start; i < end; i += step) yield i;
}
console.log([...range(0, 10, 3)].join(','));
function* fib() {
  let [a, b] = [0, 1];
  while (true) { yield a; [a, b] = [b, a + b]; }
}
const out = [];
for (const f of fib()) { if (f > 100) break; out.push(f); }
console.log(out.join(' '));
function* accumulator() {
  let total = 0;
  while (true) { const v = yield total; if (v === undefined) return total; total += v; }
}
const acc = accumulator();
acc.next();
console.log(acc.next(5).value, acc.next(10).value, JSON.stringify(acc.next()));
function* delegate() { yield 'start'; const r = yield* inner(); yield `inner returned ${r}`; }
function* inner() { yield 1; yield 2; return 'done'; }
console.log([...delegate()].join('|'));
