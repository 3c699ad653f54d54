from itertools import product, count, islice, accumulate
import operator

board = ["".join(cells) for cells in product("XO", repeat=2)]
print(board)
coords = [(r, c) for r, c in product(range(3), range(3)) if (r + c) % 2 == 0]
print(coords)
ids = zip(count(100, 10), "abc")
print(list(ids))
print(list(accumulate([1, 2, 3, 4], operator.mul)))
print(list(accumulate([5, 3, 7, 1], min, initial=6)))
print(list(islice(count(), 3, 12, 4)))
