const students = [['ann', 'math', 91], ['bob', 'math', 78], ['ann', 'art', 85], ['cid', 'art', 95], ['bob', 'art', 70], ['cid', 'math', 88]];
const byStudent = {};
for (const [n, s, sc] of students) (byStudent[n] ??= {})[s] = sc;
console.log(JSON.stringify(byStudent));
const avg = Object.fromEntries(Object.entries(byStudent).map(([n, s]) => [n, Object.values(s).reduce((a, b) => a + b) / Object.values(s).length]));
console.log(JSON.stringify(avg));
const bySubject = students.reduce((m, [n, s, sc]) => m.set(s, [...(m.get(s) || []), sc]), new Map());
console.log([...bySubject].map(([s, v]) => `${s}=${Math.max(...v)}`).join(' '));
console.log(Object.keys(avg).sort((a, b) => avg[b] - avg[a]).join('>'));
