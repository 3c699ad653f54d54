# attempt: operator.attrgetter / methodcaller with built dunder names
# expect: error:PermissionError
import operator, json
walk = operator.methodcaller("__sub" + "classes__")
try:
    print(walk(object)[:3])
except PermissionError:
    pass
print(operator.attrgetter("__glo" + "bals__")(json.dumps))
