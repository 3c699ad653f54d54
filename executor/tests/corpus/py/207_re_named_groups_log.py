import re

LINE = re.compile(r'(?P<ip>\d+\.\d+\.\d+\.\d+) - - \[(?P<ts>[^\]]+)\] "(?P<method>\w+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) (?P<size>\d+|-)')
logs = [
    '10.0.0.1 - - [05/Jan/2024:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 512',
    '10.0.0.2 - - [05/Jan/2024:10:00:02 +0000] "POST /api/login HTTP/1.1" 401 -',
    'garbage line',
    '10.0.0.1 - - [05/Jan/2024:10:00:05 +0000] "GET /img/logo.png HTTP/1.1" 304 0',
]
total = 0
for line in logs:
    m = LINE.match(line)
    if not m:
        print("skip:", line)
        continue
    d = m.groupdict()
    size = 0 if d["size"] == "-" else int(d["size"])
    total += size
    print(d["ip"], d["method"], d["path"], d["status"], size)
print("bytes", total)
