# attempt: 10**8 strings built and joined inside native calls
# expect: memory_limit | timeout
s = "-".join(map(str, range(10 ** 8)))
print(len(s))
