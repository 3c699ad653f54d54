from functools import lru_cache, reduce

calls = 0

@lru_cache(maxsize=2)
def slow(n):
    global calls
    calls += 1
    return n * 2

for n in [1, 2, 1, 3, 1, 2]:
    slow(n)
info = slow.cache_info()
print(calls, info.hits, info.misses, info.maxsize, info.currsize)
slow.cache_clear()
print(slow.cache_info().currsize)
print(reduce(lambda a, b: a * 10 + b, [1, 2, 3, 4]))
