const data = [3, 7, 1, 9, 4, 6];
const labels = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const peak = Math.max(...data);
for (let level = peak; level > 0; level--) console.log(String(level).padStart(2) + ' ' + data.map(v => v >= level ? '  #' : '   ').join(' '));
console.log('   ' + labels.map(l => l.padStart(3)).join(' '));
labels.forEach((l, i) => console.log(`${l} ${'*'.repeat(data[i])}${data[i] === peak ? ' <- max' : ''}`));
