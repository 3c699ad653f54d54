import statistics

print(statistics.mean([1, 2, 3]))
print(statistics.mean([]))
