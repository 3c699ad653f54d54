import re

lines = ["id=42", "id=7", "name=x"]
for line in lines:
    m = re.match(r"id=(\d+)", line)
    print(int(m.group(1)) * 2)
