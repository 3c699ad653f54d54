const graph = { a: ['b', 'c'], b: ['d'], c: ['d', 'e'], d: ['f'], e: ['f'], f: [] };
function bfs(start) {
  const seen = new Set([start]), order = [], q = [start];
  while (q.length) {
    const n = q.shift();
    order.push(n);
    for (const m of graph[n]) if (!seen.has(m)) { seen.add(m); q.push(m); }
  }
  return order;
}
function dfs(n, seen = new Set(), order = []) {
  seen.add(n); order.push(n);
  for (const m of graph[n]) if (!seen.has(m)) dfs(m, seen, order);
  return order;
}
function shortest(s, t) {
  const prev = { [s]: null }, q = [s];
  while (q.length) {
    const n = q.shift();
    if (n === t) break;
    for (const m of graph[n]) if (!(m in prev)) { prev[m] = n; q.push(m); }
  }
  const path = [];
  for (let c = t; c !== null; c = prev[c]) path.unshift(c);
  return path;
}
console.log(bfs('a').join(''), dfs('a').join(''), shortest('a', 'f').join('->'));
