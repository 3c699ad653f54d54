# attempt: allocate a list of 10**10 slots
# expect: memory_limit | error:MemoryError | error:OverflowError
xs = [0] * 10 ** 10
print(len(xs))
