# attempt: a 1 GB string from a format width
# expect: memory_limit | error:MemoryError | error:OverflowError | error:ValueError
s = f"{'x':>{10 ** 9}}"
print(len(s))
