import itertools

print(list(itertools.permutations("abc", 2)))
print(list(itertools.combinations(range(4), 2)))
print(list(itertools.combinations_with_replacement("xy", 2)))
print(list(itertools.product([0, 1], repeat=3)))
print(len(list(itertools.permutations(range(6)))))
teams = ["red", "blue", "green"]
for a, b in itertools.combinations(teams, 2):
    print(f"{a} vs {b}")
