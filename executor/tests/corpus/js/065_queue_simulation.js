function simulate(arrivals, service) {
  let busyUntil = 0;
  const waits = arrivals.slice().sort((a, b) => a - b).map(t => { const start = Math.max(t, busyUntil); busyUntil = start + service; return start - t; });
  return { waits, end: busyUntil, avg: waits.reduce((a, b) => a + b, 0) / waits.length };
}
const r = simulate([0, 1, 2, 10, 11, 11, 30], 3);
console.log(r.waits.join(','), r.end, r.avg.toFixed(4));
