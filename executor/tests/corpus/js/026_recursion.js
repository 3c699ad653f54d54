function hanoi(n, from, to, via, moves) {
  if (n === 0) return moves;
  hanoi(n - 1, from, via, to, moves);
  moves.push(from + to);
  hanoi(n - 1, via, to, from, moves);
  return moves;
}
const mv = hanoi(5, 'A', 'C', 'B', []);
console.log(mv.length, mv.slice(0, 6).join(' '));
function permutations(arr) {
  if (arr.length <= 1) return [arr];
  return arr.flatMap((x, i) => permutations([...arr.slice(0, i), ...arr.slice(i + 1)]).map(p => [x, ...p]));
}
console.log(permutations([1, 2, 3]).map(p => p.join('')).join(' '));
const flatten = a => a.reduce((acc, x) => Array.isArray(x) ? acc.concat(flatten(x)) : acc.concat([x]), []);
console.log(flatten([1, [2, [3, [4, [5]]]], 6]).join(','));
function ackermann(m, n) { return m === 0 ? n + 1 : n === 0 ? ackermann(m - 1, 1) : ackermann(m - 1, ackermann(m, n - 1)); }
console.log(ackermann(2, 3));
