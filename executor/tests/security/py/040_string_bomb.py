# attempt: allocate a 10 GB string
# expect: memory_limit | error:MemoryError | error:OverflowError
s = "a" * 10 ** 10
print(len(s))
