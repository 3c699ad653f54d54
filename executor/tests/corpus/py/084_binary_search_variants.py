def binary_search(xs, target):
    lo, hi = 0, len(xs) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if xs[mid] == target:
            return mid
        if xs[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1

def first_true(lo, hi, pred):
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo

xs = [1, 3, 5, 7, 9, 11]
print([binary_search(xs, t) for t in [1, 7, 11, 4, 0, 12]])
print(first_true(0, 10 ** 12, lambda x: x * x >= 10 ** 18))
print(first_true(0, 100, lambda x: 2 ** x > 10 ** 9))
