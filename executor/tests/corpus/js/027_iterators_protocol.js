class Countdown {
  constructor(n) { this.n = n; }
  [Symbol.iterator]() {
    let n = this.n;
    return { next: () => n > 0 ? { value: n--, done: false } : { value: undefined, done: true } };
  }
}
console.log([...new Countdown(5)].join(','));
const it = [10, 20, 30][Symbol.iterator]();
console.log(JSON.stringify(it.next()), JSON.stringify(it.next()), it.next().value, JSON.stringify(it.next()));
const [first, second] = new Countdown(3);
console.log(first, second);
console.log(Array.from(new Countdown(4), x => x * x).join(','));
const entries = new Map([['a', 1], ['b', 2]]).entries();
console.log(entries.next().value.join('='));
