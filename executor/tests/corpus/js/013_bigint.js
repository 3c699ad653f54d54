function factorial(n) {
  let r = 1n;
  for (let i = 2n; i <= n; i++) r *= i;
  return r;
}
console.log(factorial(50n).toString());
console.log((2n ** 200n).toString());
console.log(String((2n ** 127n - 1n) % 1000007n));
function modpow(b, e, m) {
  let r = 1n; b %= m;
  while (e > 0n) { if (e & 1n) r = r * b % m; b = b * b % m; e >>= 1n; }
  return r;
}
console.log(`${modpow(3n, 1000n, 10n ** 9n + 7n)}`);
console.log(String(-7n / 2n), String(-7n % 2n), typeof 1n, 10n > 9, 10n == 10, 10n === 10);
console.log(BigInt('123456789012345678901234567890') * 3n + '');
console.log(BigInt.asUintN(8, 257n).toString(), (255n).toString(16), BigInt(Number.MAX_SAFE_INTEGER) + 2n + '');
