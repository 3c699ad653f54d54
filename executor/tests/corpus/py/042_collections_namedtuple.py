from collections import namedtuple, OrderedDict, ChainMap

Point = namedtuple("Point", ["x", "y"])
p = Point(3, 4)
print(p, p.x + p.y, p._asdict())
q = p._replace(y=10)
print(q, Point._fields)
Card = namedtuple("Card", "rank suit", defaults=["spades"])
print(Card("A"))

od = OrderedDict()
od["b"] = 1
od["a"] = 2
od.move_to_end("b")
print(list(od.items()))
od.popitem(last=False)
print(list(od))

defaults = {"color": "red", "user": "guest"}
overrides = {"user": "admin"}
cm = ChainMap(overrides, defaults)
print(cm["user"], cm["color"], len(cm))
