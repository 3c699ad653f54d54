def flatten(xs):
    for x in xs:
        if isinstance(x, (list, tuple)):
            yield from flatten(x)
        else:
            yield x

def depth(xs):
    if not isinstance(xs, list):
        return 0
    return 1 + max((depth(x) for x in xs), default=0)

nested = [1, [2, [3, [4, [5]]]], (6, 7), [], [[8]]]
print(list(flatten(nested)))
print(depth(nested), depth([]), depth(5))

def power_set(s):
    if not s:
        return [[]]
    rest = power_set(s[1:])
    return rest + [[s[0]] + r for r in rest]

print(sorted(power_set([1, 2, 3]), key=lambda x: (len(x), x)))
