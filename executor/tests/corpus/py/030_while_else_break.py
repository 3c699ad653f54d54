def find_prime_factors(n):
    factors = []
    d = 2
    while d * d <= n:
        while n % d == 0:
            factors.append(d)
            n //= d
        d += 1
    if n > 1:
        factors.append(n)
    return factors

for n in [12, 97, 360, 1001, 2 ** 10 * 3 ** 5]:
    print(n, find_prime_factors(n))

for n in range(2, 30):
    for d in range(2, n):
        if n % d == 0:
            break
    else:
        print(n, end=" ")
print()
i = 0
while i < 3:
    i += 1
else:
    print("loop finished", i)
