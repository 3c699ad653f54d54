# attempt: print forever
# expect: output_limit
while True:
    print("flood " * 20)
