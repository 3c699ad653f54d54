const items = [1, 2, 3, 4];
const doubled = items.map((x, i) => {
  if (x === 3) throw new RangeError(`item ${i} out of range`);
  console.log('mapping', x);
  return x * 2;
});
console.log(doubled.join(','));
