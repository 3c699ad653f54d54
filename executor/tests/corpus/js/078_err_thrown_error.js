function withdraw(balance, amount) {
  if (amount > balance) throw new Error(`insufficient funds: ${balance} < ${amount}`);
  return balance - amount;
}
let b = withdraw(100, 30);
console.log('balance', b);
b = withdraw(b, 500);
console.log('never', b);
