# attempt: a dict of 10**8 keys from one native call
# expect: memory_limit | timeout
d = dict.fromkeys(range(10 ** 8))
print(len(d))
