def make_counter(start=0, step=1):
    count = start
    def increment():
        nonlocal count
        count += step
        return count
    return increment

c1 = make_counter()
c2 = make_counter(10, 5)
print(c1(), c1(), c1())
print(c2(), c2())

def make_multipliers():
    return [lambda x, i=i: x * i for i in range(4)]

print([m(10) for m in make_multipliers()])

def outer():
    x = "outer"
    def inner():
        return x.upper()
    return inner

print(outer()())
