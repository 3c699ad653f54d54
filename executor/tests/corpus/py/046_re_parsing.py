import re

log = """2024-01-05 ERROR disk full on /dev/sda1
2024-01-05 INFO backup started
2024-01-06 WARN cpu at 91%
2024-01-07 ERROR timeout after 30s"""

pattern = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (ERROR|WARN|INFO) (.*)$", re.M)
for m in pattern.finditer(log):
    year, month, day, level, msg = m.groups()
    if level != "INFO":
        print(f"{day}/{month}: {level.lower()} -> {msg}")
print(len(re.findall(r"ERROR", log)))
print(re.findall(r"\d+", "a1b22c333"))
print(re.sub(r"\s+", " ", "too    many   spaces"))
print(re.split(r"[,;]\s*", "a, b;c ,d"))
m = re.search(r"(?P<user>\w+)@(?P<host>[\w.]+)", "mail: ada@example.org!")
print(m.group("user"), m.group("host"), m.span())
print(re.fullmatch(r"[A-Z]{3}-\d{3}", "ABC-123") is not None, re.match(r"b", "abc"))
