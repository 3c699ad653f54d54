import functools

@functools.lru_cache(maxsize=None)
def ackermann(m, n):
    if m == 0:
        return n + 1
    if n == 0:
        return ackermann(m - 1, 1)
    return ackermann(m - 1, ackermann(m, n - 1))

print([ackermann(2, n) for n in range(5)])
print(ackermann(3, 3))

def collatz_len(n, cache={1: 1}):
    if n not in cache:
        cache[n] = 1 + collatz_len(n // 2 if n % 2 == 0 else 3 * n + 1)
    return cache[n]

best = max(range(1, 3000), key=collatz_len)
print(best, collatz_len(best))
