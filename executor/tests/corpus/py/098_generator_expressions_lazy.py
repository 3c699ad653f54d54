def numbers():
    n = 0
    while True:
        print("produce", n)
        yield n
        n += 1

evens = (x for x in numbers() if x % 2 == 0)
print(next(evens))
print(next(evens))
squares = map(lambda x: x * x, range(5))
print(list(squares), list(squares))
pairs = zip(range(3), "abc")
print(dict(pairs))
print(sum(1 for _ in filter(None, [0, 1, "", "a", None, [1]])))
