const compress = s => {
  const parts = s.match(/(.)\1*/g) || [];
  const c = parts.map(p => p[0] + p.length).join('');
  return c.length < s.length ? c : s;
};
const decompress = s => s.replace(/(\D)(\d+)/g, (_, ch, n) => ch.repeat(Number(n)));
for (const s of ['aabcccccaaa', 'abc', '', 'zzzzzzzzzzzz']) console.log(JSON.stringify(s), '->', JSON.stringify(compress(s)));
console.log(decompress('a2b1c5a3'));
