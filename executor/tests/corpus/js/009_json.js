const cfg = { name: 'edge', version: [1, 2, 3], enabled: true, ratio: 0.75, owner: null, nested: { k: 'v' } };
const text = JSON.stringify(cfg);
console.log(text);
console.log(JSON.stringify(cfg, null, 2));
const back = JSON.parse(text);
console.log(back.nested.k, back.version[2], back.owner === null);
console.log(JSON.stringify({ a: undefined, b: () => 1, c: NaN, d: new Date(0), e: [undefined] }));
console.log(JSON.stringify({ z: 1, a: 2 }, ['a']));
console.log(JSON.stringify({ n: 5, s: 'x' }, (k, v) => typeof v === 'number' ? v * 2 : v));
const revived = JSON.parse('{"when":"2020-01-01","n":"7"}', (k, v) => k === 'n' ? Number(v) : v);
console.log(revived.n + 1, typeof revived.when);
console.log(JSON.stringify('quote " and \\ and \n newline'));
class Pt { constructor(x, y) { this.x = x; this.y = y; } toJSON() { return [this.x, this.y]; } }
console.log(JSON.stringify({ p: new Pt(1, 2) }));
