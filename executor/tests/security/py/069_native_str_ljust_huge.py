# attempt: a 10 GB string built by one str method (no `*` for the size check to see)
# expect: memory_limit | error:MemoryError | error:OverflowError
s = "x".ljust(10 ** 10)
print(len(s))
