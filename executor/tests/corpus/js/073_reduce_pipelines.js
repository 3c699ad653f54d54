const txns = [
  { id: 1, type: 'credit', amount: 100.1 }, { id: 2, type: 'debit', amount: 20.05 },
  { id: 3, type: 'credit', amount: 0.15 }, { id: 4, type: 'debit', amount: 80.2 },
];
const cents = txns.reduce((s, t) => s + (t.type === 'credit' ? 1 : -1) * Math.round(t.amount * 100), 0);
console.log(cents, (cents / 100).toFixed(2));
const byType = txns.reduce((acc, t) => ({ ...acc, [t.type]: [...(acc[t.type] || []), t.id] }), {});
console.log(JSON.stringify(byType));
const stats = txns.map(t => t.amount).reduce(({ min, max, n, sum }, v) => ({ min: Math.min(min, v), max: Math.max(max, v), n: n + 1, sum: sum + v }), { min: Infinity, max: -Infinity, n: 0, sum: 0 });
console.log(stats.min, stats.max, stats.n, stats.sum.toFixed(2));
