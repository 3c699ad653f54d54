# attempt: allocate a 10 GB string inside eval of a string assembled at run time
# expect: memory_limit | error:MemoryError | error:OverflowError
size = "10" + " ** " + "10"
s = eval("'a' * " + size)
print(len(s))
