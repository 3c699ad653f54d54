# attempt: allocate a 10 GB bytearray
# expect: memory_limit | error:MemoryError | error:OverflowError
b = bytearray(10 ** 10)
print(len(b))
