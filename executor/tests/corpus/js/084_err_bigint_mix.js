const big = 2n ** 64n;
console.log(big.toString());
const mixed = big + 1;
console.log(mixed);
