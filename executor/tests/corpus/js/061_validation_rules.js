const rules = [
  ['too short', p => p.length >= 8],
  ['needs digit', p => /\d/.test(p)],
  ['needs upper', p => /[A-Z]/.test(p)],
  ['needs symbol', p => /[^\w\s]/.test(p)],
];
const check = pw => { const bad = rules.filter(([, r]) => !r(pw)).map(([m]) => m); return bad.length ? bad.join(', ') : 'ok'; };
for (const pw of ['abc', 'abcdefgh1', 'Abcdefgh1', 'Abcdefgh1!', 'P@ss w0rd']) console.log(JSON.stringify(pw).padEnd(14), check(pw));
