from collections import Counter

counts = Counter("hello")
print(counts["l"], counts["z"])
plain = dict(counts)
print(plain["z"])
