from itertools import groupby

records = [
    ("fruit", "apple"), ("fruit", "pear"), ("veg", "kale"),
    ("fruit", "fig"), ("veg", "leek"), ("veg", "okra"),
]
records.sort(key=lambda r: r[0])
for key, group in groupby(records, key=lambda r: r[0]):
    print(key, [name for _, name in group])

def rle(s):
    return "".join(f"{len(list(g))}{k}" for k, g in groupby(s))

print(rle("aaabccddddde"))
print([(k, len(list(g))) for k, g in groupby([1, 1, 2, 2, 2, 1])])
