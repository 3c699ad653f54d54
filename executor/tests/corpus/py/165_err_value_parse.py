rows = ["10", "20", "thirty", "40"]
total = 0
for r in rows:
    total += int(r)
    print("running total", total)
