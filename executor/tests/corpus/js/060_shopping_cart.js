class Cart {
  #lines = new Map();
  add(sku, price, qty = 1) { const l = this.#lines.get(sku) || { price, qty: 0 }; l.qty += qty; this.#lines.set(sku, l); return this; }
  remove(sku) { this.#lines.delete(sku); return this; }
  get subtotalCents() { let t = 0; for (const { price, qty } of this.#lines.values()) t += Math.round(price * 100) * qty; return t; }
  total(discountPct = 0) { return (Math.round(this.subtotalCents * (100 - discountPct) / 100) / 100).toFixed(2); }
  get count() { return [...this.#lines.values()].reduce((s, l) => s + l.qty, 0); }
}
const cart = new Cart().add('APL', 0.45, 6).add('CHZ', 7.99).add('APL', 0.45, 2);
console.log(cart.subtotalCents, cart.total(), cart.total(15), cart.count);
console.log(cart.remove('CHZ').total(), cart.count);
