def is_sorted(xs):
    return all(a <= b for a, b in zip(xs, xs[1:]))

data = [1, 2, 5, 3]
print("checking", data)
assert is_sorted(data)
