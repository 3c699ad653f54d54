function parse(v) {
  try {
    const n = JSON.parse(v);
    if (typeof n !== 'number') throw new TypeError('not a number');
    return n;
  } catch (e) {
    console.log('caught', e.name);
    return null;
  } finally {
    console.log('done with', v);
  }
}
console.log(parse('42'));
console.log(parse('{bad'));
console.log(parse('"str"'));
function f() {
  try { return 'try'; } finally { console.log('finally runs before return'); }
}
console.log(f());
try {
  try { throw new RangeError('inner'); }
  catch (e) { throw new Error('outer', { cause: e }); }
} catch (e) {
  console.log(e.message, e.cause.name, e.cause.message);
}
try { null.x; } catch { console.log('optional catch binding'); }
