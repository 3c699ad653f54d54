values = [0.1, 1 / 3, 2.5, 1e-7, 123456.789, 100.0, -0.5, 1e22, 3.0e-5]
for v in values:
    print(repr(v), str(v), f"{v:.3g}", f"{v:.2e}", f"{v:g}")
print(0.1 + 0.2, 1.1 * 3, 2 / 3, 10 / 3)
print(round(2.675, 2), round(0.125, 2), round(1e15 + 0.3, 1))
print(float(7), 7 / 1, 1e16, 1.5e300 * 1e10)
print(f"{1234.5:>10.1f}|{-1234.5:+,.2f}|{0.000123:.2%}")
