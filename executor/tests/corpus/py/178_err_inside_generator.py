def parse_all(lines):
    for n, line in enumerate(lines, 1):
        key, value = line.split("=")
        yield key.strip(), value.strip()

for k, v in parse_all(["a = 1", "b = 2", "broken line", "c = 3"]):
    print(k, v)
