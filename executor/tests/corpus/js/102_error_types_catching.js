const attempts = [
  () => null.prop,
  () => undefinedVariable,
  () => new Array(-5),
  () => JSON.parse('{'),
  () => decodeURIComponent('%'),
  () => { throw new EvalError('custom eval error'); },
  () => (1).toFixed(500),
  () => Symbol() + '',
  () => 'ok',
];
for (const f of attempts) {
  try { console.log('result', f()); }
  catch (e) { console.log(e.name, e instanceof Error, e.constructor === globalThis[e.name]); }
}
