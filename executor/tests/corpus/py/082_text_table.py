rows = [
    ("Name", "Qty", "Price"),
    ("Widget", 3, 4.5),
    ("Gadget", 12, 19.99),
    ("Thingamajig", 1, 250.0),
]
widths = [max(len(str(r[i])) for r in rows) for i in range(3)]
for i, (name, qty, price) in enumerate(rows):
    if i == 0:
        print(f"{name:<{widths[0]}} | {qty:>{widths[1]}} | {price:>{widths[2]}}")
        print("-+-".join("-" * w for w in widths))
    else:
        print(f"{name:<{widths[0]}} | {qty:>{widths[1]}} | {price:>{widths[2]}.2f}")
total = sum(q * p for _, q, p in rows[1:])
print(f"Total: {total:,.2f}")
