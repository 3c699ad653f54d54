const precisions = [2, 10, 100, 101];
for (const p of precisions) {
  console.log(p, (1 / 3).toFixed(p).length);
}
