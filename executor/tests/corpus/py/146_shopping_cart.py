from dataclasses import dataclass
from decimal import Decimal, ROUND_HALF_EVEN

@dataclass
class Product:
    sku: str
    price: Decimal

class Cart:
    def __init__(self):
        self.lines = {}
    def add(self, product, qty=1):
        cur = self.lines.get(product.sku, (product, 0))
        self.lines[product.sku] = (product, cur[1] + qty)
    def remove(self, sku):
        self.lines.pop(sku, None)
    def subtotal(self):
        return sum((p.price * q for p, q in self.lines.values()), Decimal(0))
    def total(self, discount_pct=0):
        d = self.subtotal() * (Decimal(100) - discount_pct) / 100
        return d.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)

cart = Cart()
apple = Product("APL", Decimal("0.45"))
cheese = Product("CHZ", Decimal("7.99"))
cart.add(apple, 6)
cart.add(cheese)
cart.add(apple, 2)
print(cart.subtotal(), cart.total(), cart.total(15))
cart.remove("CHZ")
print(cart.total(), [ (p.sku, q) for p, q in cart.lines.values()])
