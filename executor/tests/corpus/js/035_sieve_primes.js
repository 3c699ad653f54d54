function sieve(n) {
  const isPrime = new Uint8Array(n + 1).fill(1);
  isPrime[0] = isPrime[1] = 0;
  for (let i = 2; i * i <= n; i++) if (isPrime[i]) for (let j = i * i; j <= n; j += i) isPrime[j] = 0;
  const out = [];
  isPrime.forEach((p, i) => { if (p) out.push(i); });
  return out;
}
const primes = sieve(10000);
console.log(primes.length, primes.slice(0, 10).join(','), primes.reduce((a, b) => a + b, 0));
function factorize(n) {
  const f = [];
  for (let d = 2; d * d <= n; d++) while (n % d === 0) { f.push(d); n /= d; }
  if (n > 1) f.push(n);
  return f;
}
console.log([360, 97, 1001, 65536].map(n => `${n}=${factorize(n).join('*')}`).join(' '));
