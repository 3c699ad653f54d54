orders = [
    {"id": 1, "customer": "acme", "items": [("bolt", 100, 0.05), ("nut", 100, 0.03)]},
    {"id": 2, "customer": "globex", "items": [("gear", 2, 12.5)]},
    {"id": 3, "customer": "acme", "items": [("spring", 20, 0.4), ("bolt", 50, 0.05)]},
]
by_customer = {}
for o in orders:
    total = sum(q * p for _, q, p in o["items"])
    by_customer[o["customer"]] = by_customer.get(o["customer"], 0) + total
for customer, total in sorted(by_customer.items()):
    print(f"{customer:8} {total:8.2f}")
units = {}
for o in orders:
    for name, q, _ in o["items"]:
        units[name] = units.get(name, 0) + q
print(sorted(units.items(), key=lambda kv: -kv[1]))
print(max(orders, key=lambda o: len(o["items"]))["id"])
