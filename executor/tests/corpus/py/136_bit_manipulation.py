def popcount(n):
    c = 0
    while n:
        n &= n - 1
        c += 1
    return c

def is_power_of_two(n):
    return n > 0 and n & (n - 1) == 0

def gray(n):
    return [i ^ (i >> 1) for i in range(2 ** n)]

print([popcount(x) for x in [0, 1, 7, 255, 2 ** 40 - 1]])
print([x for x in range(70) if is_power_of_two(x)])
print([format(g, "03b") for g in gray(3)])
print(~5, -5 >> 1, 5 << 3, 0b1100 & 0b1010, 0b1100 | 0b1010, 0b1100 ^ 0b1010)
mask = 0
for bit in [1, 3, 5]:
    mask |= 1 << bit
print(bin(mask), [b for b in range(8) if mask >> b & 1])
