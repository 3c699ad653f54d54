# attempt: a 1 GB string through `*` variants the size check must see (operator, in-place, reversed)
# expect: memory_limit
import operator
a = 10 ** 9 * "x"
b = "y"
b *= 10 ** 9
c = operator.mul("z", 10 ** 9)
print(len(a), len(b), len(c))
