const id = Symbol('id');
const user = { name: 'ann', [id]: 123 };
console.log(user[id], Object.keys(user).join(','), id.toString(), id.description);
console.log(Symbol.for('app') === Symbol.for('app'), Symbol('x') === Symbol('x'));
class Range {
  constructor(a, b) { this.a = a; this.b = b; }
  *[Symbol.iterator]() { for (let i = this.a; i <= this.b; i++) yield i; }
  get [Symbol.toStringTag]() { return 'Range'; }
}
console.log([...new Range(1, 5)].join(','), Object.prototype.toString.call(new Range(1, 2)));
const money = { amount: 42, [Symbol.toPrimitive](hint) { return hint === 'number' ? this.amount : `$${this.amount}`; } };
console.log(+money, `${money}`, money + 1);
console.log(Object.getOwnPropertySymbols(user).length, typeof id);
