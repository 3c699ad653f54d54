function makeBuffer(n) {
  return new Array(n).fill(0);
}
console.log(makeBuffer(3).length);
console.log(makeBuffer(-1).length);
