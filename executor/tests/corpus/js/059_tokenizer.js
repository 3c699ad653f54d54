function* tokenize(src) {
  const re = /\s*(?:(\d+\.?\d*)|([A-Za-z_]\w*)|(==|!=|<=|>=|[-+*\/=<>()]))/y;
  let m;
  while (re.lastIndex < src.length && (m = re.exec(src))) {
    if (m[1]) yield ['num', m[1]];
    else if (m[2]) yield [['if', 'else', 'return'].includes(m[2]) ? 'kw' : 'id', m[2]];
    else yield ['op', m[3]];
  }
}
console.log([...tokenize('if x >= 10 return (x * 2.5)')].map(t => t.join(':')).join(' '));
function evaluate(expr) {
  const toks = [...tokenize(expr)].map(t => t[1]);
  let i = 0;
  const peek = () => toks[i], next = () => toks[i++];
  const atom = () => { const t = next(); if (t === '(') { const v = sum(); next(); return v; } if (t === '-') return -atom(); return parseFloat(t); };
  const prod = () => { let v = atom(); while (peek() === '*' || peek() === '/') v = next() === '*' ? v * atom() : v / atom(); return v; };
  const sum = () => { let v = prod(); while (peek() === '+' || peek() === '-') v = next() === '+' ? v + prod() : v - prod(); return v; };
  return sum();
}
for (const e of ['1 + 2 * 3', '(1 + 2) * 3', '10 / 4 - 1', '-(2 + 3) * 2']) console.log(e, '=', evaluate(e));
