function sum(...nums) { return nums.reduce((a, b) => a + b, 0); }
const arr = [1, 2, 3];
console.log(sum(...arr), sum(), sum(...arr, 10));
const merged = [...arr, ...[4, 5], ...'hi'];
console.log(merged.join(','));
const base = { a: 1, b: 2 };
const ext = { ...base, b: 3, c: 4 };
console.log(JSON.stringify(ext), JSON.stringify(base));
console.log(Math.max(...arr), Math.min(...[7, -2, 9]));
const copy = [...arr];
copy.push(99);
console.log(arr.length, copy.length);
const { a, ...others } = ext;
console.log(a, JSON.stringify(others));
