from itertools import islice

def chunked(iterable, n):
    it = iter(iterable)
    while chunk := list(islice(it, n)):
        yield chunk

def sliding(xs, n):
    return [tuple(xs[i:i + n]) for i in range(len(xs) - n + 1)]

print(list(chunked(range(10), 3)))
print(list(chunked("abcdefg", 2)))
print(sliding([1, 2, 3, 4, 5], 3))
print(list(zip(*[iter(range(9))] * 3)))
