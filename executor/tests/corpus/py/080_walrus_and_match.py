import re

data = [5, 12, 7, 30, 2]
if (n := len(data)) > 3:
    print(f"{n} items")
print([y for x in data if (y := x * 2) > 10])

def describe(cmd):
    match cmd.split():
        case ["go", direction]:
            return f"going {direction}"
        case ["take", *items] if items:
            return f"taking {', '.join(items)}"
        case ["quit" | "exit"]:
            return "bye"
        case []:
            return "empty"
        case _:
            return "unknown"

for c in ["go north", "take sword shield", "exit", "", "dance"]:
    print(describe(c))

def shape(p):
    match p:
        case {"type": "circle", "r": r}:
            return f"circle {r}"
        case (x, y):
            return f"point {x},{y}"
        case int() | float() as num:
            return f"number {num}"
        case _:
            return "?"

print(shape({"type": "circle", "r": 2}), shape((1, 2)), shape(3.5), shape("s"))
while (m := re.search(r"\d", "abc")) is None:
    print("no digit")
    break
