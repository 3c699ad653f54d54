# attempt: double a list until memory runs out
# expect: memory_limit | error:MemoryError | error:OverflowError | timeout | step_limit
xs = [0]
while True:
    xs = xs + xs
