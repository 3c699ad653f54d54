# attempt: compute 10**10**10 (a 4 GB integer)
# expect: memory_limit | error:MemoryError | error:OverflowError | timeout | step_limit
print(10 ** 10 ** 10 > 0)
