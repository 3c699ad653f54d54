def memoize(fn):
    cache = {}
    def wrapper(*args):
        if args not in cache:
            cache[args] = fn(*args)
        return cache[args]
    wrapper.cache = cache
    return wrapper

@memoize
def slow_square(n):
    print("computing", n)
    return n * n

print(slow_square(4), slow_square(4), slow_square(5))
print(sorted(slow_square.cache.items()))

def make_accumulators():
    funcs = {}
    for name, op in [("add", lambda a, b: a + b), ("mul", lambda a, b: a * b)]:
        def acc(values, op=op, start=0 if name == "add" else 1):
            result = start
            for v in values:
                result = op(result, v)
            return result
        funcs[name] = acc
    return funcs

fs = make_accumulators()
print(fs["add"]([1, 2, 3, 4]), fs["mul"]([1, 2, 3, 4]))
