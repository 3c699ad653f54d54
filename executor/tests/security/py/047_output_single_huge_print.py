# attempt: one print of 50 MB
# expect: output_limit | memory_limit
print("x" * (50 * 1024 * 1024))
