const DAY = 86400000;
const start = Date.UTC(2024, 4, 1);
let business = 0;
for (let t = start; t <= Date.UTC(2024, 4, 31); t += DAY) { const wd = new Date(t).getUTCDay(); if (wd !== 0 && wd !== 6) business++; }
console.log(business);
const meetings = Array.from({ length: 4 }, (_, i) => new Date(start + i * 7 * DAY).toISOString().slice(0, 10));
console.log(meetings.join(' '));
const isLeap = y => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
console.log([1900, 2000, 2023, 2024].map(isLeap).join(','));
const daysIn = (y, m) => new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
console.log([0, 1, 3].map(m => daysIn(2024, m)).join(','), daysIn(2023, 1));
const d = new Date(Date.UTC(2024, 0, 31));
d.setUTCMonth(1);
console.log(d.toISOString());
