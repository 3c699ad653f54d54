class Color {
  static #cache = new Map();
  constructor(r, g, b) { Object.assign(this, { r, g, b }); Object.freeze(this); }
  static fromHex(hex) {
    if (!Color.#cache.has(hex)) {
      const n = parseInt(hex.replace('#', ''), 16);
      Color.#cache.set(hex, new Color(n >> 16, (n >> 8) & 255, n & 255));
    }
    return Color.#cache.get(hex);
  }
  toHex() { return '#' + [this.r, this.g, this.b].map(v => v.toString(16).padStart(2, '0')).join(''); }
  mix(o) { return new Color(...['r', 'g', 'b'].map(k => Math.round((this[k] + o[k]) / 2))); }
  toString() { return `rgb(${this.r}, ${this.g}, ${this.b})`; }
}
const red = Color.fromHex('#ff0000'), blue = Color.fromHex('#0000ff');
console.log(String(red), red.mix(blue).toHex(), Color.fromHex('#ff0000') === red, Object.isFrozen(red));
