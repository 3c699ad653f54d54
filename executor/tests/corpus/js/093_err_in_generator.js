function* parse(lines) {
  for (const line of lines) {
    const [k, v] = line.split('=');
    if (v === undefined) throw new SyntaxError(`bad line: ${line}`);
    yield [k.trim(), v.trim()];
  }
}
for (const [k, v] of parse(['a = 1', 'b = 2', 'broken', 'c = 3'])) console.log(k, v);
