function solve(n) {
  const sols = [], cols = new Set(), d1 = new Set(), d2 = new Set(), board = [];
  (function place(r) {
    if (r === n) { sols.push([...board]); return; }
    for (let c = 0; c < n; c++) {
      if (cols.has(c) || d1.has(r - c) || d2.has(r + c)) continue;
      cols.add(c); d1.add(r - c); d2.add(r + c); board.push(c);
      place(r + 1);
      cols.delete(c); d1.delete(r - c); d2.delete(r + c); board.pop();
    }
  })(0);
  return sols;
}
console.log(Array.from({ length: 8 }, (_, i) => solve(i + 1).length).join(','));
solve(6)[0].forEach(c => console.log('.'.repeat(c) + 'Q' + '.'.repeat(5 - c)));
