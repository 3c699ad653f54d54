function step(live) {
  const counts = new Map();
  for (const key of live) {
    const [r, c] = key.split(',').map(Number);
    for (let dr = -1; dr <= 1; dr++) for (let dc = -1; dc <= 1; dc++) {
      if (!dr && !dc) continue;
      const k = `${r + dr},${c + dc}`;
      counts.set(k, (counts.get(k) || 0) + 1);
    }
  }
  return new Set([...counts].filter(([k, n]) => n === 3 || (n === 2 && live.has(k))).map(([k]) => k));
}
let g = new Set(['0,1', '1,2', '2,0', '2,1', '2,2']);
for (let gen = 0; gen < 4; gen++) {
  const rows = [];
  for (let r = 0; r < 5; r++) { let line = ''; for (let c = 0; c < 5; c++) line += g.has(`${r},${c}`) ? '#' : '.'; rows.push(line); }
  console.log(rows.join('\n') + '\n');
  g = step(g);
}
