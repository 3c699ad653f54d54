const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const shiftChar = (c, k) => {
  const up = c.toUpperCase(), i = A.indexOf(up);
  if (i < 0) return c;
  const r = A[(i + k % 26 + 26) % 26];
  return c === up ? r : r.toLowerCase();
};
const caesar = (s, k) => [...s].map(c => shiftChar(c, k)).join('');
function vigenere(s, key, dir = 1) {
  let j = 0;
  return [...s].map(c => A.includes(c.toUpperCase()) ? shiftChar(c, dir * A.indexOf(key[j++ % key.length])) : c).join('');
}
const enc = caesar('Hello, World!', 3);
console.log(enc, caesar(enc, -3));
const v = vigenere('ATTACK AT DAWN', 'LEMON');
console.log(v, vigenere(v, 'LEMON', -1));
