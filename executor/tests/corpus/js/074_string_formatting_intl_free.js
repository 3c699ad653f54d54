const fmtMoney = c => { const s = (Math.abs(c) / 100).toFixed(2); const [i, f] = s.split('.'); return (c < 0 ? '-' : '') + '$' + i.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '.' + f; };
console.log([0, 5, 123456789, -99999, 100000].map(fmtMoney).join(' '));
const pad = (n, w) => String(n).padStart(w, '0');
const fmtDuration = s => `${pad(Math.floor(s / 3600), 2)}:${pad(Math.floor(s / 60) % 60, 2)}:${pad(s % 60, 2)}`;
console.log([0, 59, 3600, 86399, 3725].map(fmtDuration).join(' '));
const plural = (n, w) => `${n} ${w}${n === 1 ? '' : 's'}`;
console.log(plural(1, 'file'), plural(3, 'file'), plural(0, 'error'));
const truncate = (s, n) => s.length <= n ? s : s.slice(0, n - 1) + '…';
console.log(truncate('a long sentence here', 10), truncate('short', 10));
