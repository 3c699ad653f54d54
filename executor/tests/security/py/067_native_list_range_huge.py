# attempt: materialise 10**9 ints in one native call
# expect: memory_limit | timeout | error:MemoryError | error:OverflowError
x = list(range(10 ** 9))
print(len(x))
