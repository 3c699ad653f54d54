const grid = [[1, 2, 3], [4, 5, 6], [7, 8, 9]];
let found = null;
outer: for (let r = 0; r < grid.length; r++) {
  for (let c = 0; c < grid[r].length; c++) {
    if (grid[r][c] === 5) { found = [r, c]; break outer; }
  }
}
console.log(found.join(','));
const pairs = [];
rows: for (let i = 0; i < 4; i++) {
  for (let j = 0; j < 4; j++) {
    if (j > i) continue rows;
    if ((i + j) % 3 === 0) continue;
    pairs.push(`${i}${j}`);
  }
}
console.log(pairs.join(' '));
block: {
  console.log('in block');
  if (pairs.length) break block;
  console.log('never');
}
console.log('after block');
