const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';
function toBase(n, b) {
  if (n === 0n) return '0';
  const neg = n < 0n; if (neg) n = -n;
  let s = '';
  const B = BigInt(b);
  while (n > 0n) { s = DIGITS[Number(n % B)] + s; n /= B; }
  return (neg ? '-' : '') + s;
}
for (const [n, b] of [[255n, 2], [255n, 16], [-42n, 7], [10n ** 20n, 36], [0n, 5]]) {
  const s = toBase(n, b);
  console.log(n.toString(), b, s, s === n.toString(b));
}
