const rows = [['Name', 'Qty', 'Price'], ['Widget', 3, 4.5], ['Gadget', 12, 19.99], ['Thingamajig', 1, 250]];
const widths = [0, 1, 2].map(i => Math.max(...rows.map(r => String(r[i]).length)));
rows.forEach((r, i) => {
  const cells = i === 0 ? r.map(String) : [r[0], String(r[1]), r[2].toFixed(2)];
  console.log(cells.map((c, j) => j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j] + (j === 2 && i ? 1 : 0))).join(' | '));
  if (i === 0) console.log(widths.map(w => '-'.repeat(w)).join('-+-'));
});
const total = rows.slice(1).reduce((s, [, q, p]) => s + q * p, 0);
console.log(`Total: ${total.toFixed(2)}`);
