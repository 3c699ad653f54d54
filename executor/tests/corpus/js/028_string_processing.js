function isPalindrome(s) {
  const c = s.toLowerCase().replace(/[^a-z0-9]/g, '');
  return c === [...c].reverse().join('');
}
function wordFreq(text) {
  const freq = {};
  for (const w of text.toLowerCase().match(/[a-z']+/g)) freq[w] = (freq[w] || 0) + 1;
  return Object.entries(freq).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3);
}
function anagramGroups(words) {
  const g = new Map();
  for (const w of words) {
    const k = [...w].sort().join('');
    g.set(k, [...(g.get(k) || []), w]);
  }
  return [...g.values()].filter(x => x.length > 1);
}
console.log(isPalindrome('A man, a plan, a canal: Panama'), isPalindrome('hello'));
console.log(wordFreq('It was the best of times, it was the worst of times.').map(e => e.join(':')).join(' '));
console.log(anagramGroups(['listen', 'silent', 'enlist', 'google', 'gogole', 'cat']).map(g => g.join('/')).join(' '));
console.log('reverse each word'.split(' ').map(w => [...w].reverse().join('')).join(' '));
