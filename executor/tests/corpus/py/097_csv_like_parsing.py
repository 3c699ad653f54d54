raw = """name,dept,salary
alice,eng,120000
bob,sales,80000
carol,eng,135000
dan,sales,72000
erin,hr,65000"""

lines = raw.splitlines()
header = lines[0].split(",")
rows = [dict(zip(header, line.split(","))) for line in lines[1:]]
for r in rows:
    r["salary"] = int(r["salary"])
by_dept = {}
for r in rows:
    by_dept.setdefault(r["dept"], []).append(r["salary"])
for dept in sorted(by_dept):
    sal = by_dept[dept]
    print(f"{dept}: n={len(sal)} avg={sum(sal) / len(sal):.1f} max={max(sal)}")
top = sorted(rows, key=lambda r: r["salary"], reverse=True)[:2]
print([r["name"] for r in top])
