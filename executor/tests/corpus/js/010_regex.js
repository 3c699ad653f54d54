const log = `2024-01-05 ERROR disk full
2024-01-05 INFO backup started
2024-01-06 WARN cpu at 91%
2024-01-07 ERROR timeout after 30s`;
const re = /^(\d{4})-(\d{2})-(\d{2}) (ERROR|WARN|INFO) (.*)$/gm;
let m;
while ((m = re.exec(log)) !== null) {
  if (m[4] !== 'INFO') console.log(`${m[3]}/${m[2]}: ${m[4].toLowerCase()} -> ${m[5]}`);
}
console.log(('a1b22c333'.match(/\d+/g) || []).join(','));
console.log('too    many   spaces'.replace(/\s+/g, ' '));
console.log('a, b;c ,d'.split(/[,;]\s*/).join('|'));
const em = 'mail: ada@example.org!'.match(/(?<user>\w+)@(?<host>[\w.]+)/);
console.log(em.groups.user, em.groups.host, em.index);
console.log(/^[A-Z]{3}-\d{3}$/.test('ABC-123'), /b/y.test('abc'));
console.log('3 apples and 12 pears'.replace(/\d+/g, n => String(n * 2)));
console.log([...'a=1 b=2'.matchAll(/(\w)=(\d)/g)].map(x => x[1] + x[2]).join(','));
console.log('camelCaseString'.replace(/([A-Z])/g, '_$1').toLowerCase());
