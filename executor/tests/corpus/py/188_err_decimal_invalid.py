from decimal import Decimal, InvalidOperation

print(Decimal("1.5") + Decimal("2.25"))
try:
    Decimal("abc")
except InvalidOperation:
    print("invalid literal caught")
print(Decimal(1) / Decimal(0))
