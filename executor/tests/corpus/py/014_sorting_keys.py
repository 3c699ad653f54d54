people = [
    {"name": "Ann", "age": 31, "city": "Oslo"},
    {"name": "bob", "age": 25, "city": "Rome"},
    {"name": "Cid", "age": 31, "city": "Bern"},
    {"name": "dee", "age": 19, "city": "Oslo"},
]
print([p["name"] for p in sorted(people, key=lambda p: p["age"])])
print([p["name"] for p in sorted(people, key=lambda p: (-p["age"], p["name"]))])
print([p["name"] for p in sorted(people, key=lambda p: p["name"].lower())])
print(sorted(["banana", "Apple", "cherry"], key=str.lower, reverse=True))
words = "the quick brown fox jumps over the lazy dog".split()
print(sorted(words, key=len))
print(sorted(set(words), key=lambda w: (len(w), w)))
nums = [5, -3, 2, -8, 0]
nums.sort(key=abs)
print(nums)
print(min(people, key=lambda p: p["age"])["name"], max(nums))
