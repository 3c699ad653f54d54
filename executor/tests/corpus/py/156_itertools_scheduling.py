from itertools import product, permutations, combinations

tasks = {"a": 3, "b": 2, "c": 4, "d": 1}
best = min(permutations(tasks), key=lambda order: sum(
    sum(tasks[t] for t in order[:i + 1]) for i in range(len(order))))
print(best)
pairs = [(x, y) for x, y in combinations(sorted(tasks), 2) if tasks[x] + tasks[y] == 5]
print(pairs)
grid = ["".join(p) for p in product("AB", "12")]
print(grid)
