function makeCounter(start = 0, step = 1) {
  let count = start;
  return {
    inc() { count += step; return count; },
    reset() { count = start; },
    get value() { return count; },
  };
}
const c = makeCounter();
c.inc(); c.inc();
console.log(c.value);
const d = makeCounter(10, 5);
console.log(d.inc(), d.inc(), c.inc());
d.reset();
console.log(d.value);
const fns = [];
for (let i = 0; i < 3; i++) fns.push(() => i * 10);
console.log(fns.map(f => f()).join(' '));
var vfns = [];
for (var j = 0; j < 3; j++) vfns.push(() => j);
console.log(vfns.map(f => f()).join(' '));
