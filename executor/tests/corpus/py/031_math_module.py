import math

print(math.sqrt(16), math.isqrt(17), math.pi > 3.14)
print(math.floor(-2.5), math.ceil(-2.5), math.trunc(-2.7))
print(math.gcd(48, 180), math.lcm(4, 6, 10))
print(math.factorial(20), math.comb(10, 3), math.perm(5, 2))
print(math.hypot(3, 4), math.dist((0, 0), (6, 8)))
print(round(math.log(math.e), 6), math.log2(1024), math.log10(1000))
print(round(math.sin(math.pi / 2), 9), round(math.cos(0), 9))
print(math.isclose(0.1 + 0.2, 0.3), 0.1 + 0.2 == 0.3)
print(math.inf > 10 ** 100, math.isnan(math.nan), math.isinf(-math.inf))
print(math.fsum([0.1] * 10), sum([0.1] * 10))
print(math.copysign(3, -0.0), math.fabs(-4), math.prod([1, 2, 3, 4]))
print(round(math.degrees(math.pi), 6), round(math.radians(180), 6))
