import operator

records = [("ann", 3, 9.5), ("bob", 1, 7.0), ("cid", 2, 8.25)]
print(sorted(records, key=operator.itemgetter(1)))
print(sorted(records, key=operator.itemgetter(2, 0), reverse=True)[0])
print(list(map(operator.mul, [1, 2, 3], [4, 5, 6])))

class P:
    def __init__(self, name, age):
        self.name, self.age = name, age

ps = [P("x", 30), P("y", 20)]
print([p.name for p in sorted(ps, key=operator.attrgetter("age"))])
upper = operator.methodcaller("upper")
print(upper("hi"), operator.neg(5), operator.truediv(7, 2), operator.floordiv(7, 2))
print(operator.contains([1, 2], 2), operator.getitem({"k": "v"}, "k"))
ops = {"+": operator.add, "-": operator.sub, "*": operator.mul}
print([ops[o](6, 3) for o in "+-*"])
