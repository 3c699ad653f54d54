const doc = JSON.parse(`{"store": {"books": [
  {"title": "A", "price": 8.95, "tags": ["x"]},
  {"title": "B", "price": 12.99, "tags": []},
  {"title": "C", "price": 22.0, "tags": ["y", "z"]}], "open": true}}`);
function* walk(node, path = '$') {
  if (Array.isArray(node)) for (const [i, v] of node.entries()) yield* walk(v, `${path}[${i}]`);
  else if (node !== null && typeof node === 'object') for (const [k, v] of Object.entries(node)) yield* walk(v, `${path}.${k}`);
  else yield [path, node];
}
for (const [p, v] of walk(doc)) console.log(p, '=', JSON.stringify(v));
console.log(doc.store.books.filter(b => b.price < 15).map(b => b.title).join(','));
