const item = 'coffee', price = 3.5, qty = 3;
console.log(`${qty} x ${item} = $${(price * qty).toFixed(2)}`);
const multi = `line one
line two
  indented`;
console.log(multi);
function tag(strings, ...vals) {
  return strings.raw.map((s, i) => s + (i < vals.length ? `[${vals[i]}]` : '')).join('');
}
console.log(tag`a${1}b${2 + 3}c`);
console.log(`nested ${`inner ${1 + 1}`} done`, `${[1, 2, 3]}`, `${{}}`);
console.log(String.raw`C:\path\new`);
