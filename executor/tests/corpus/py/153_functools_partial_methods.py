from functools import partial, reduce, wraps

def retry(times):
    def deco(fn):
        @wraps(fn)
        def wrapper(*a, **kw):
            last = None
            for attempt in range(1, times + 1):
                try:
                    return fn(*a, attempt=attempt, **kw)
                except ValueError as e:
                    last = e
                    print(f"attempt {attempt} failed: {e}")
            raise last
        return wrapper
    return deco

@retry(3)
def flaky(x, attempt):
    if attempt < 3:
        raise ValueError(f"not yet ({x})")
    return x * 10

print(flaky(4))
clamp = lambda lo, hi, x: max(lo, min(hi, x))
clamp01 = partial(clamp, 0, 1)
print([clamp01(v) for v in [-0.5, 0.3, 7]])
