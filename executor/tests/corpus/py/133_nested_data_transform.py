users = [
    {"id": 1, "name": "Ann", "tags": ["admin", "dev"], "active": True},
    {"id": 2, "name": "Bob", "tags": ["dev"], "active": False},
    {"id": 3, "name": "Cy", "tags": [], "active": True},
]
active_names = [u["name"] for u in users if u["active"]]
tag_index = {}
for u in users:
    for t in u["tags"]:
        tag_index.setdefault(t, []).append(u["id"])
print(active_names)
print(tag_index)
summary = {u["name"]: len(u["tags"]) for u in users}
print(summary, sum(summary.values()))
print(list(zip(*[(u["id"], u["name"]) for u in users])))
