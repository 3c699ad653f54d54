class InsufficientFunds extends Error {
  constructor(balance, amount) {
    super(`cannot withdraw ${amount}, balance is ${balance}`);
    this.name = 'InsufficientFunds';
    this.shortBy = amount - balance;
  }
}
class Account {
  #balance = 0;
  #history = [];
  constructor(owner) { this.owner = owner; }
  deposit(x) { if (x <= 0) throw new RangeError('deposit must be positive'); this.#balance += x; this.#history.push(['dep', x]); return this; }
  withdraw(x) { if (x > this.#balance) throw new InsufficientFunds(this.#balance, x); this.#balance -= x; this.#history.push(['wd', x]); return this; }
  get balance() { return this.#balance; }
  get history() { return this.#history.map(([k, v]) => `${k}:${v}`).join(','); }
}
const a = new Account('ada').deposit(100).deposit(50).withdraw(30);
try { a.withdraw(1000); } catch (e) { console.log(e.name, e.message, e.shortBy, e instanceof InsufficientFunds, e instanceof Error); }
try { a.deposit(-1); } catch (e) { console.log(e.name); }
console.log(a.owner, a.balance, a.history);
