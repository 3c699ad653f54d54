class Trie {
  constructor() { this.root = {}; }
  insert(w) { let n = this.root; for (const c of w) n = n[c] ??= {}; n.$ = true; }
  complete(prefix) {
    let n = this.root;
    for (const c of prefix) { if (!n[c]) return []; n = n[c]; }
    const out = [];
    const walk = (node, acc) => { for (const k of Object.keys(node).sort()) k === '$' ? out.push(prefix + acc) : walk(node[k], acc + k); };
    walk(n, '');
    return out;
  }
}
const t = new Trie();
['car', 'card', 'care', 'cat', 'dog', 'do', 'dot'].forEach(w => t.insert(w));
console.log(t.complete('ca').join(','), t.complete('do').join(','), t.complete('x').length);
