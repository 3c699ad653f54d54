const user = { name: 'Ada', age: 36, address: { city: 'London', zip: 'N1' }, langs: ['en', 'fr'] };
const { name, age: years, address: { city }, langs: [first, ...others], missing = 'default' } = user;
console.log(name, years, city, first, others.length, missing);
const [a, , b = 5, ...rest] = [1, 2, undefined, 4, 5];
console.log(a, b, rest.join('|'));
let x = 1, y = 2;
[x, y] = [y, x];
console.log(x, y);
function area({ w = 1, h = 1 } = {}) { return w * h; }
console.log(area({ w: 3, h: 4 }), area({ w: 5 }), area());
for (const [k, v] of Object.entries({ p: 1, q: 2 })) console.log(k, v);
