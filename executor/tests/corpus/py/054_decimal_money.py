from decimal import Decimal, ROUND_HALF_UP, getcontext

prices = [Decimal("19.99"), Decimal("5.01"), Decimal("0.10")]
subtotal = sum(prices)
print(subtotal)
tax = (subtotal * Decimal("0.0825")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
print(tax, subtotal + tax)
print(Decimal("0.1") + Decimal("0.2") == Decimal("0.3"))
print(Decimal(10) / Decimal(3))
getcontext().prec = 6
print(Decimal(1) / Decimal(7))
print(Decimal("2.675").quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
print(Decimal("1.20") * 3, Decimal("-3.5").copy_abs(), Decimal("7").sqrt())
print(Decimal("123.4500").normalize(), Decimal("1E+2").to_integral_value())
