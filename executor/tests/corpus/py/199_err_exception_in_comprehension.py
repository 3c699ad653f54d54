values = ["1", "2", "", "4"]
print([int(v) for v in values[:2]])
numbers = [int(v) for v in values]
print(numbers)
