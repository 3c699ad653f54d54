def fib():
    a, b = 0, 1
    while True:
        yield a
        a, b = b, a + b

def primes():
    found = []
    n = 2
    while True:
        if all(n % p for p in found if p * p <= n):
            found.append(n)
            yield n
        n += 1

from itertools import islice, takewhile
print(list(islice(fib(), 15)))
print(list(takewhile(lambda p: p < 60, primes())))
print(sum(x for x in takewhile(lambda f: f < 4_000_000, fib()) if x % 2 == 0))
