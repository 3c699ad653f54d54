def risky():
    return {}["missing"]

try:
    risky()
except KeyError:
    print("logging the failure")
    raise
