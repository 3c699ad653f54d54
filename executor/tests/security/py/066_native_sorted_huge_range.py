# attempt: one built-in call that builds and sorts 10**8 ints in native code (no probe runs inside it)
# expect: memory_limit | timeout
print(len(sorted(range(10 ** 8))))
