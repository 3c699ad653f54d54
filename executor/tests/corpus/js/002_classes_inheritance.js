class Shape {
  constructor(name) { this.name = name; }
  area() { throw new Error('not implemented'); }
  describe() { return `${this.name} with area ${this.area().toFixed(2)}`; }
}
class Rect extends Shape {
  constructor(w, h) { super('rect'); this.w = w; this.h = h; }
  area() { return this.w * this.h; }
}
class Square extends Rect {
  constructor(s) { super(s, s); this.name = 'square'; }
}
class Circle extends Shape {
  constructor(r) { super('circle'); this.r = r; }
  area() { return Math.PI * this.r ** 2; }
}
const shapes = [new Rect(2, 3), new Square(4), new Circle(1)];
for (const s of shapes) console.log(s.describe());
console.log(shapes[1] instanceof Rect, shapes[1] instanceof Shape, Object.getPrototypeOf(Square) === Rect);
console.log(shapes.map(s => s.constructor.name).join(','));
