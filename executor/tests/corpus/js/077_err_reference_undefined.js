function total(items) {
  let sum = 0;
  for (const i of items) sum += i;
  return summ;
}
console.log('computing');
console.log(total([1, 2, 3]));
