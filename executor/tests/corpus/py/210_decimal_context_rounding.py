from decimal import Decimal, localcontext, ROUND_DOWN, ROUND_CEILING, ROUND_HALF_EVEN

values = [Decimal("2.345"), Decimal("2.355"), Decimal("-2.345")]
for mode in (ROUND_DOWN, ROUND_CEILING, ROUND_HALF_EVEN):
    print(mode, [str(v.quantize(Decimal("0.01"), rounding=mode)) for v in values])
with localcontext() as ctx:
    ctx.prec = 4
    print(Decimal(2) / Decimal(3), Decimal("1.23456") + 0)
print(Decimal(2) / Decimal(3))
print(Decimal("3.14").as_tuple(), Decimal("1e3") == 1000, sorted([Decimal("1.1"), Decimal("0.9")]))
