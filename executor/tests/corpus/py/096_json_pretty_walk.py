import json

doc = json.loads("""
{"store": {"books": [
   {"title": "A", "price": 8.95, "tags": ["x"]},
   {"title": "B", "price": 12.99, "tags": []},
   {"title": "C", "price": 22.0, "tags": ["y", "z"]}
 ], "open": true}}
""")

def walk(node, path="$"):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")
    else:
        yield path, node

for path, value in walk(doc):
    print(path, "=", json.dumps(value))
cheap = [b["title"] for b in doc["store"]["books"] if b["price"] < 15]
print(cheap)
