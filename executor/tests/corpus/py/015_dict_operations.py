inventory = {"apples": 5, "pears": 2}
inventory["kiwis"] = 7
inventory.update({"pears": 4, "plums": 1})
print(inventory)
print(inventory.get("mangos", 0), inventory.setdefault("figs", 3))
removed = inventory.pop("apples")
print(removed, list(inventory.keys()))
print(sorted(inventory.items(), key=lambda kv: kv[1], reverse=True))
merged = {"a": 1} | {"b": 2, "a": 3}
print(merged)
inverted = {v: k for k, v in merged.items()}
print(inverted)
print("kiwis" in inventory, "apples" in inventory)
counts = {}
for ch in "mississippi":
    counts[ch] = counts.get(ch, 0) + 1
print(counts)
del counts["m"]
print(len(counts), sum(counts.values()))
print(dict(zip(["x", "y"], [1, 2])), dict.fromkeys("ab", 0))
