import random

random.seed(99)
x = y = 0
path = [(0, 0)]
for _ in range(20):
    dx, dy = random.choice([(0, 1), (0, -1), (1, 0), (-1, 0)])
    x, y = x + dx, y + dy
    path.append((x, y))
print(path[-1], len(set(path)))
population = list(range(1, 50))
print(sorted(random.sample(population, 6)))
items = ["a", "b", "c", "d"]
random.shuffle(items)
print(items)
