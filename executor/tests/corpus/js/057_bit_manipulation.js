const popcount = n => { let c = 0; while (n) { n &= n - 1; c++; } return c; };
console.log([0, 1, 7, 255, 1023].map(popcount).join(','));
console.log(~5, -5 >> 1, -5 >>> 28, 5 << 3, 0b1100 & 0b1010, 0b1100 | 0b1010, 0b1100 ^ 0b1010);
console.log(1 << 31, (1 << 31) >>> 0, 2 ** 32 | 0, (2 ** 32 + 5) | 0);
const gray = n => Array.from({ length: 1 << n }, (_, i) => (i ^ (i >> 1)).toString(2).padStart(n, '0'));
console.log(gray(3).join(' '));
let mask = 0;
for (const b of [1, 3, 5]) mask |= 1 << b;
console.log(mask.toString(2), [...Array(8).keys()].filter(b => (mask >> b) & 1).join(','));
