import random

random.seed(12345)
print([random.randint(1, 100) for _ in range(5)])
print(random.choice(["rock", "paper", "scissors"]))
deck = list(range(10))
random.shuffle(deck)
print(deck)
print(random.sample(range(100), 4))
print(round(random.random(), 10))
print(round(random.uniform(5, 10), 10))
rng = random.Random(7)
print([rng.randrange(0, 50, 5) for _ in range(4)])
print(rng.choices("abc", weights=[5, 1, 1], k=6))
