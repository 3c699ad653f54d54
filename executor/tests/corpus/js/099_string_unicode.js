const words = ['naïve', 'café', 'Straße', '日本語', 'emoji😀'];
for (const w of words) console.log(w, w.length, [...w].length, w.toUpperCase(), [...w].reverse().join(''));
console.log('😀'.codePointAt(0).toString(16), String.fromCodePoint(0x1f600) === '😀', '\u00e9' === 'é', 'e\u0301'.normalize('NFC') === 'é');
console.log(['b', 'A', 'a', 'B'].sort().join(''), 'ABC'.split('').map(c => c.charCodeAt(0)).join(','));
