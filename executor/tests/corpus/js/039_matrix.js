const matmul = (a, b) => a.map(row => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
const transpose = m => m[0].map((_, i) => m.map(r => r[i]));
const identity = n => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => +(i === j)));
function matpow(m, k) {
  let r = identity(m.length);
  while (k > 0) { if (k & 1) r = matmul(r, m); m = matmul(m, m); k >>= 1; }
  return r;
}
console.log(JSON.stringify(matmul([[1, 2], [3, 4]], [[0, 1], [1, 0]])));
console.log(JSON.stringify(transpose([[1, 2, 3], [4, 5, 6]])));
console.log(matpow([[1, 1], [1, 0]], 30)[0][1]);
function spiral(m) {
  const out = [];
  while (m.length) { out.push(...m.shift()); m = transpose(m.length ? m : [[]]).reverse(); if (m.length && !m[0].length) break; }
  return out;
}
console.log(spiral([[1, 2, 3], [4, 5, 6], [7, 8, 9]]).join(','));
