// edgecoder run examples/hello.js
function wordCounts(text) {
  const counts = new Map();
  for (const word of text.toLowerCase().split(/\s+/)) {
    counts.set(word, (counts.get(word) || 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

for (const [word, n] of wordCounts("the quick brown fox jumps over the lazy dog the end").slice(0, 3)) {
  console.log(`${word}: ${n}`);
}
