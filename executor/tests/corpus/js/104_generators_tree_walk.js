const tree = { v: 1, children: [{ v: 2, children: [{ v: 4, children: [] }] }, { v: 3, children: [{ v: 5, children: [] }, { v: 6, children: [] }] }] };
function* dfs(n, depth = 0) { yield [n.v, depth]; for (const c of n.children) yield* dfs(c, depth + 1); }
function* bfs(root) { const q = [root]; while (q.length) { const n = q.shift(); yield n.v; q.push(...n.children); } }
console.log([...dfs(tree)].map(([v, d]) => '  '.repeat(d) + v).join('\n'));
console.log([...bfs(tree)].join(','));
const leaves = [...dfs(tree)].filter(([v]) => v > 3).length;
console.log(leaves);
