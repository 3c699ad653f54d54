function ladder(begin, end, list) {
  const words = new Set(list), seen = new Set([begin]);
  let q = [[begin]];
  while (q.length) {
    const next = [];
    for (const path of q) {
      const w = path[path.length - 1];
      if (w === end) return path;
      for (let i = 0; i < w.length; i++) for (let c = 97; c < 123; c++) {
        const n = w.slice(0, i) + String.fromCharCode(c) + w.slice(i + 1);
        if (words.has(n) && !seen.has(n)) { seen.add(n); next.push([...path, n]); }
      }
    }
    q = next;
  }
  return null;
}
console.log(ladder('hit', 'cog', ['hot', 'dot', 'dog', 'lot', 'log', 'cog']).join('>'), ladder('hit', 'cog', ['hot']));
