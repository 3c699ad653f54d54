function argsDemo() { return [arguments.length, Array.from(arguments).reverse().join(''), Array.prototype.slice.call(arguments, 1).join('')]; }
console.log(argsDemo('a', 'b', 'c').join(' '));
const arrayLike = { 0: 'x', 1: 'y', length: 2 };
console.log(Array.from(arrayLike).join(','), Array.prototype.map.call(arrayLike, s => s.toUpperCase()).join(','));
console.log(Array.from('héllo').length, Array.from(new Set('banana')).join(''), Array.from(new Map([[1, 2]]).keys()).join(''));
console.log(Array.from({ length: 3 }).length, [...Array(3).keys()].join(''), Array.from([1, 2, 3], x => x * 10).join(','));
