from functools import reduce
import operator

def pipeline(*funcs):
    return lambda x: reduce(lambda acc, f: f(acc), funcs, x)

process = pipeline(str.strip, str.lower, lambda s: s.replace(" ", "_"))
print(process("  Hello Big World  "))
print(reduce(operator.or_, [{1}, {2}, {3, 1}]) == {1, 2, 3})
print(reduce(operator.concat, [[1], [2, 3], [4]]))
print(reduce(lambda a, b: a if a[1] >= b[1] else b, [("x", 3), ("y", 7), ("z", 5)]))
print(list(map(operator.itemgetter(0), [(1, 2), (3, 4)])))
