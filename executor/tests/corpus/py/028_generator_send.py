def accumulator():
    total = 0
    while True:
        value = yield total
        if value is None:
            break
        total += value

acc = accumulator()
print(next(acc))
for v in [5, 10, 20]:
    print(acc.send(v))

def delegating():
    result = yield from sub()
    print("sub returned", result)
    yield "after"

def sub():
    yield 1
    yield 2
    return "sub-done"

print(list(delegating()))

def infinite():
    n = 0
    while True:
        yield n
        n += 1

g = infinite()
print([next(g) for _ in range(5)])
g.close()
print("closed")
