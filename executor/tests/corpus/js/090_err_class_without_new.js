class Point {
  constructor(x, y) { this.x = x; this.y = y; }
}
const p = new Point(1, 2);
console.log(p.x, p.y);
const q = Point(3, 4);
console.log(q);
