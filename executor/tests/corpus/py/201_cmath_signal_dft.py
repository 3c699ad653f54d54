import cmath
import math

def dft(xs):
    n = len(xs)
    return [sum(x * cmath.exp(-2j * cmath.pi * k * t / n) for t, x in enumerate(xs)) for k in range(n)]

signal = [math.sin(2 * math.pi * t / 8) for t in range(8)]
spectrum = dft(signal)
print([round(abs(c), 6) for c in spectrum])
print(round(cmath.phase(-1 + 0j), 6), cmath.isclose(cmath.exp(1j * math.pi), -1))
print(cmath.sqrt(-9), round(cmath.log(cmath.e).real, 6), cmath.polar(1j))
