from fractions import Fraction

a = Fraction(1, 3)
b = Fraction(1, 6)
print(a + b, a * b, a / b, a - b)
print(Fraction("0.125"), Fraction(3.5), Fraction(10, -4))
total = sum(Fraction(1, n) for n in range(1, 7))
print(total, float(total))
print(Fraction(355, 113).limit_denominator(10))
print(a.numerator, a.denominator, a ** 2, round(Fraction(7, 2)))
print(sorted([Fraction(2, 3), Fraction(1, 2), Fraction(5, 8)]))
print(Fraction(1, 3) == 1 / 3, Fraction(1, 2) == 0.5)
