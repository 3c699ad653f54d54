counter = 0

def bump():
    global counter
    counter += 1
    return counter

def outer():
    total = 0
    def add(x):
        nonlocal total
        total += x
    for i in range(5):
        add(i)
    return total

bump(); bump()
print(counter, outer())
x = "global"
def show():
    x = "local"
    def inner():
        return x
    return inner()
print(show(), x)
