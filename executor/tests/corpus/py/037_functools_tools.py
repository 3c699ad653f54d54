import functools
import operator

print(functools.reduce(operator.add, range(1, 11)))
power_of_two = functools.partial(pow, 2)
print([power_of_two(n) for n in range(6)])
int_from_bin = functools.partial(int, base=2)
print(int_from_bin("101101"))

@functools.total_ordering
class Money:
    def __init__(self, cents):
        self.cents = cents
    def __eq__(self, other):
        return self.cents == other.cents
    def __lt__(self, other):
        return self.cents < other.cents

print(Money(5) >= Money(3), Money(2) > Money(9), Money(4) <= Money(4))

def compare(a, b):
    return (len(a) > len(b)) - (len(a) < len(b)) or ((a > b) - (a < b))

print(sorted(["ccc", "a", "bb", "aa"], key=functools.cmp_to_key(compare)))

class Circle:
    def __init__(self, r):
        self.r = r
    @functools.cached_property
    def area(self):
        print("computing")
        return 3 * self.r * self.r

c = Circle(2)
print(c.area, c.area)
