import cmath

def quadratic(a, b, c):
    d = cmath.sqrt(b * b - 4 * a * c)
    return (-b + d) / (2 * a), (-b - d) / (2 * a)

print(quadratic(1, -3, 2))
print(quadratic(1, 2, 5))
z = complex(3, 4)
print(abs(z), z.real, z.imag, z.conjugate())
r, phi = cmath.polar(z)
print(r, round(phi, 6))
w = cmath.rect(2, 0)
print(w)
print((1 + 2j) * (3 - 1j), (1 + 2j) / (1 - 1j))
print(cmath.sqrt(-4), round(abs(cmath.exp(1j * cmath.pi) + 1), 9))
