a = {1, 2, 3, 4, 5}
b = {4, 5, 6, 7}
print(sorted(a | b), sorted(a & b), sorted(a - b), sorted(a ^ b))
print(a.issubset(set(range(10))), {1, 2} <= a, a.isdisjoint({8, 9}))
tags1 = {"python", "rust", "go"}
tags2 = {"rust", "zig"}
print(sorted(tags1 | tags2))
print(sorted(tags1 - tags2))
s = set()
for word in "to be or not to be".split():
    s.add(word)
print(len(s), "be" in s)
s.discard("zzz")
s.remove("to")
print(sorted(s))
frozen = frozenset([3, 1, 2])
print(sorted(frozen), hash(frozen) == hash(frozenset([1, 2, 3])))
