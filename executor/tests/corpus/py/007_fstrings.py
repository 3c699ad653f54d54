name = "Ada"
pi = 3.14159265
n = 1234567
print(f"{name:>8}|{name:<8}|{name:^8}|")
print(f"{pi:.2f} {pi:10.4f} {pi:e}")
print(f"{n:,} {n:_} {n:08d} {255:x} {255:#o} {5:b}")
print(f"{0.256:.1%}")
print(f"{name!r} {name.upper()} {len(name) * 2}")
items = ["apple", "kiwi"]
print(f"{items[0]}-{items[-1]} {{literal braces}}")
width = 6
print(f"{42:{width}d}|")
value = 7
print(f"{value=}")
print(f"{'nested ' + name}")
