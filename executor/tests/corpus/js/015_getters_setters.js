class Temperature {
  #celsius = 0;
  constructor(c) { this.celsius = c; }
  get celsius() { return this.#celsius; }
  set celsius(v) {
    if (v < -273.15) throw new RangeError('below absolute zero');
    this.#celsius = v;
  }
  get fahrenheit() { return this.#celsius * 9 / 5 + 32; }
  static fromF(f) { return new Temperature((f - 32) * 5 / 9); }
}
const t = new Temperature(25);
console.log(t.celsius, t.fahrenheit);
t.celsius = 100;
console.log(t.fahrenheit, Temperature.fromF(212).celsius);
try { t.celsius = -300; } catch (e) { console.log(e.name, e.message); }
const obj = {
  _v: 1,
  get double() { return this._v * 2; },
  set double(x) { this._v = x / 2; },
};
obj.double = 10;
console.log(obj._v, obj.double);
const desc = Object.getOwnPropertyDescriptor(obj, 'double');
console.log(typeof desc.get, typeof desc.set, 'value' in desc);
