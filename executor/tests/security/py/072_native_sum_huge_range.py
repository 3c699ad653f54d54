# attempt: a native loop of 10**12 big-integer additions (no allocation bound, only time)
# expect: timeout
print(sum(range(10 ** 12)))
