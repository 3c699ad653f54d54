z1 = 3 + 4j
z2 = complex("1-2j")
print(z1 + z2, z1 * z2, z1 - z2, z1 / 2)
print(z1.real, z1.imag, abs(z1), z1.conjugate())
print(z1 == complex(3, 4), (1j) ** 2)
roots = [complex(round((-1) ** (k / 3).real, 6), 0) for k in range(1)]
print(roots)
print(sum([1 + 1j, 2 - 3j, -1j]))
