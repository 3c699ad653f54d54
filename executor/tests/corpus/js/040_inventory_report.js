const orders = [
  { id: 1, customer: 'acme', items: [['bolt', 100, 0.05], ['nut', 100, 0.03]] },
  { id: 2, customer: 'globex', items: [['gear', 2, 12.5]] },
  { id: 3, customer: 'acme', items: [['spring', 20, 0.4], ['bolt', 50, 0.05]] },
];
const byCustomer = orders.reduce((acc, o) => {
  acc[o.customer] = (acc[o.customer] || 0) + o.items.reduce((s, [, q, p]) => s + q * p, 0);
  return acc;
}, {});
for (const [c, t] of Object.entries(byCustomer).sort()) console.log(c.padEnd(8), t.toFixed(2).padStart(8));
const units = new Map();
orders.flatMap(o => o.items).forEach(([n, q]) => units.set(n, (units.get(n) || 0) + q));
console.log([...units].sort((a, b) => b[1] - a[1]).map(([n, q]) => `${n}:${q}`).join(' '));
console.log(orders.reduce((best, o) => o.items.length > best.items.length ? o : best).id);
