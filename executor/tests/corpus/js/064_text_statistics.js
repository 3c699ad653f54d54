const text = `It was a bright cold day in April, and the clocks were striking thirteen.
Winston Smith, his chin nuzzled into his breast in an effort to escape the vile wind,
slipped quickly through the glass doors of Victory Mansions.`;
const words = text.toLowerCase().match(/[a-z']+/g);
console.log(words.length, new Set(words).size);
const freq = words.reduce((m, w) => m.set(w, (m.get(w) || 0) + 1), new Map());
console.log([...freq].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3).map(e => e.join('=')).join(' '));
console.log(text.split(/[.!?]\s*/).filter(Boolean).length);
console.log(words.reduce((a, b) => b.length > a.length || (b.length === a.length && b > a) ? b : a));
console.log((words.join('').length / words.length).toFixed(3), text.match(/\b[A-Z][a-z]+/g).join(','));
