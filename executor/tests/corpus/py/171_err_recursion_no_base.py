def countdown(n):
    return countdown(n - 1)

print("before")
countdown(10)
