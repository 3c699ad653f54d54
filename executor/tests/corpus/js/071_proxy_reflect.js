const target = { name: 'ann', age: 30 };
const log = [];
const p = new Proxy(target, {
  get(t, k, r) { log.push(`get ${String(k)}`); return Reflect.get(t, k, r); },
  set(t, k, v) { if (k === 'age' && typeof v !== 'number') throw new TypeError('age must be a number'); return Reflect.set(t, k, v); },
  has(t, k) { return !k.startsWith('_') && k in t; },
});
p.age = 31;
console.log(p.name, p.age, 'name' in p, '_secret' in p);
try { p.age = 'old'; } catch (e) { console.log(e.name, e.message); }
console.log(log.join(','), Reflect.ownKeys(target).join(','), Reflect.has(target, 'age'));
const defaults = new Proxy({}, { get: (t, k) => k in t ? t[k] : `<${String(k)}>` });
defaults.x = 1;
console.log(defaults.x, defaults.y);
