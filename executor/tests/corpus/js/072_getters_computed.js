class Rect {
  constructor(w, h) { this.w = w; this.h = h; }
  get area() { return this.w * this.h; }
  get perimeter() { return 2 * (this.w + this.h); }
  set size([w, h]) { this.w = w; this.h = h; }
  static get unit() { return new Rect(1, 1); }
}
const r = new Rect(3, 4);
console.log(r.area, r.perimeter);
r.size = [5, 6];
console.log(r.area, Rect.unit.area, Object.keys(r).join(','));
const temp = Object.defineProperty({}, 'x', { get() { return 42; }, enumerable: false });
console.log(temp.x, Object.keys(temp).length, JSON.stringify(temp));
