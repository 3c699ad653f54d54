const people = [
  { name: 'Ann', age: 31 }, { name: 'bob', age: 25 }, { name: 'Cid', age: 31 }, { name: 'dee', age: 19 },
];
console.log(people.slice().sort((a, b) => a.age - b.age).map(p => p.name).join(','));
console.log(people.slice().sort((a, b) => b.age - a.age || a.name.localeCompare(b.name)).map(p => p.name).join(','));
console.log(people.slice().sort((a, b) => a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1).map(p => p.name).join(','));
console.log([10, 9, 1, 100, 25].sort().join(','), [10, 9, 1, 100, 25].sort((a, b) => a - b).join(','));
const words = 'the quick brown fox jumps over the lazy dog'.split(' ');
console.log([...new Set(words)].sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)).join(' '));
const stable = [[1, 'a'], [0, 'b'], [1, 'c'], [0, 'd']].sort((x, y) => x[0] - y[0]);
console.log(stable.map(x => x[1]).join(''));
