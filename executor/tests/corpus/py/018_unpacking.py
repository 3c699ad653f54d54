a, b, c = 1, 2, 3
print(a, b, c)
a, b = b, a
print(a, b)
first, *middle, last = [1, 2, 3, 4, 5]
print(first, middle, last)
(x, y), z = (1, 2), 3
print(x, y, z)
head, *tail = "hello"
print(head, tail)
def stats(*args, **kwargs):
    return len(args), sorted(kwargs)
print(stats(*[1, 2, 3], **{"k": 1, "j": 2}))
pairs = [(1, "one"), (2, "two")]
for num, word in pairs:
    print(num, word)
merged = [*range(3), *"ab"]
print(merged)
d = {**{"a": 1}, "b": 2}
print(d)
for i, (k, v) in enumerate(sorted(d.items())):
    print(i, k, v)
