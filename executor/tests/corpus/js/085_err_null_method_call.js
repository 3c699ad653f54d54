function firstWord(s) {
  const m = s.match(/\w+/);
  return m[0];
}
console.log(firstWord('hello world'));
console.log(firstWord('!!!'));
