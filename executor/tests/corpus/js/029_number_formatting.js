const values = [0.1, 1 / 3, 2.5, 1e-7, 123456.789, 100, -0.5, 1e21, 3e-5, 2 ** 60];
for (const v of values) console.log(String(v), v.toFixed(3), v.toPrecision(4), v.toExponential(2));
console.log((1234567.891).toFixed(1), (0.5).toFixed(0), (1.5).toFixed(0), (2.5).toFixed(0), (1.005).toFixed(2));
console.log(Number('0x1f'), Number('0b101'), Number(''), Number(null), Number(undefined), Number([5]), Number(true));
console.log((25).toString(36), parseInt('z', 36), (-255).toString(16), (0.5).toString(2));
console.log(Number.parseFloat('1e3'), +'3.0', 1e300 * 1e10, -1e300 * 1e10, 0 / 0);
