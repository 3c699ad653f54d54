total = 0

def add(x):
    total = total + x
    return total

print(add(5))
