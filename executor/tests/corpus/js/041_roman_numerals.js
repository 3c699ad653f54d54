const VALS = [[1000, 'M'], [900, 'CM'], [500, 'D'], [400, 'CD'], [100, 'C'], [90, 'XC'], [50, 'L'], [40, 'XL'], [10, 'X'], [9, 'IX'], [5, 'V'], [4, 'IV'], [1, 'I']];
const toRoman = n => VALS.reduce((s, [v, r]) => { while (n >= v) { s += r; n -= v; } return s; }, '');
function fromRoman(s) {
  const m = { I: 1, V: 5, X: 10, L: 50, C: 100, D: 500, M: 1000 };
  let t = 0;
  for (let i = 0; i < s.length; i++) t += m[s[i]] < (m[s[i + 1]] || 0) ? -m[s[i]] : m[s[i]];
  return t;
}
for (const n of [1, 4, 9, 14, 40, 90, 400, 1994, 2024, 3999]) console.log(n, toRoman(n), fromRoman(toRoman(n)) === n);
