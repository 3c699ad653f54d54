# attempt: read the host's stdin with input()
# expect: outside_subset:PY_FILE_IO | error:*
line = input("secret? ")
print("read", line)
