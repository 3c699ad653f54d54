# attempt: materialise an infinite generator
# expect: memory_limit | timeout | step_limit | error:MemoryError
def naturals():
    n = 0
    while True:
        yield n
        n += 1
print(len(list(naturals())))
