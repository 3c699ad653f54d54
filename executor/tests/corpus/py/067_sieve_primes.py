def sieve(n):
    is_prime = bytearray([1]) * (n + 1)
    is_prime[0:2] = b"\x00\x00"
    for i in range(2, int(n ** 0.5) + 1):
        if is_prime[i]:
            is_prime[i * i::i] = bytearray(len(range(i * i, n + 1, i)))
    return [i for i, p in enumerate(is_prime) if p]

primes = sieve(200)
print(primes[:15], len(primes))
print(sum(sieve(10000)))
twin = [(p, p + 2) for p in primes if p + 2 in set(primes)]
print(twin[:6])
