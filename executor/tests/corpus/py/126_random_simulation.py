import random

def monte_carlo_pi(n, seed):
    rng = random.Random(seed)
    inside = sum(1 for _ in range(n) if rng.random() ** 2 + rng.random() ** 2 <= 1)
    return 4 * inside / n

print(monte_carlo_pi(20000, 1))
random.seed(2024)
rolls = [random.randint(1, 6) for _ in range(600)]
print([rolls.count(i) for i in range(1, 7)])
print(random.getrandbits(32))
random.seed("reproducible")
print(random.random())
print(round(random.gauss(0, 1), 12))
