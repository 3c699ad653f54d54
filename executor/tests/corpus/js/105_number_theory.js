const gcd = (a, b) => b === 0 ? a : gcd(b, a % b);
const lcm = (a, b) => a / gcd(a, b) * b;
console.log(gcd(48, 180), lcm(4, 6), [2, 3, 4, 5, 6].reduce(lcm));
const isPrime = n => { if (n < 2) return false; for (let d = 2; d * d <= n; d++) if (n % d === 0) return false; return true; };
console.log(Array.from({ length: 30 }, (_, i) => i).filter(isPrime).join(' '));
const digitSum = n => String(n).split('').reduce((s, d) => s + Number(d), 0);
console.log(digitSum(2n ** 100n), digitSum(9875));
function collatz(n) { let s = 0; while (n !== 1) { n = n % 2 ? 3 * n + 1 : n / 2; s++; } return s; }
let best = 1;
for (let i = 1; i < 3000; i++) if (collatz(i) > collatz(best)) best = i;
console.log(best, collatz(best));
