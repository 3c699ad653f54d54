# attempt: a 2.8-gigabit integer from one pow() call
# expect: memory_limit | timeout
print(pow(7, 10 ** 9) > 0)
