cache = {}
cache[(1, 2)] = "tuple ok"
print(cache)
cache[[1, 2]] = "list fails"
