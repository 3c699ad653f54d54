data = [3, 7, 1, 9, 4, 6]
labels = ["mon", "tue", "wed", "thu", "fri", "sat"]
peak = max(data)
for level in range(peak, 0, -1):
    print(f"{level:2} " + " ".join("  #" if v >= level else "   " for v in data))
print("   " + " ".join(f"{l:>3}" for l in labels))
for l, v in zip(labels, data):
    print(f"{l} {'*' * v}{'' if v < peak else ' <- max'}")
