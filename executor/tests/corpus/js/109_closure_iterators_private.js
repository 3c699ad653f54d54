function makeIdGenerator(prefix) {
  let n = 0;
  const issued = new Set();
  return {
    next() { const id = `${prefix}-${String(++n).padStart(3, '0')}`; issued.add(id); return id; },
    isIssued: id => issued.has(id),
    get count() { return n; },
  };
}
const users = makeIdGenerator('usr'), orders = makeIdGenerator('ord');
console.log(users.next(), users.next(), orders.next(), users.count, orders.count);
console.log(users.isIssued('usr-002'), users.isIssued('ord-001'), orders.isIssued('ord-001'));
