# attempt: build a dict with a billion entries
# expect: memory_limit | error:MemoryError | timeout | step_limit
d = {i: str(i) for i in range(10 ** 9)}
print(len(d))
