def step(live):
    counts = {}
    for (r, c) in live:
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                if dr or dc:
                    key = (r + dr, c + dc)
                    counts[key] = counts.get(key, 0) + 1
    return {cell for cell, n in counts.items() if n == 3 or (n == 2 and cell in live)}

def show(live, size=5):
    for r in range(size):
        print("".join("#" if (r, c) in live else "." for c in range(size)))
    print()

glider = {(0, 1), (1, 2), (2, 0), (2, 1), (2, 2)}
for _ in range(3):
    show(glider)
    glider = step(glider)
print(sorted(glider))
