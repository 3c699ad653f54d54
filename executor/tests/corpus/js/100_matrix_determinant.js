function det(m) {
  const n = m.length;
  m = m.map(r => r.slice());
  let d = 1;
  for (let i = 0; i < n; i++) {
    let p = i;
    while (p < n && m[p][i] === 0) p++;
    if (p === n) return 0;
    if (p !== i) { [m[p], m[i]] = [m[i], m[p]]; d = -d; }
    d *= m[i][i];
    for (let r = i + 1; r < n; r++) {
      const f = m[r][i] / m[i][i];
      for (let c = i; c < n; c++) m[r][c] -= f * m[i][c];
    }
  }
  return Math.round(d * 1e9) / 1e9;
}
console.log(det([[2, 0, 1], [1, 3, 2], [1, 1, 1]]), det([[1, 2], [2, 4]]), det([[0, 1], [1, 0]]), det([[4]]));
