import statistics

grades = {"ann": [88, 92, 79], "bob": [65, 70, 58], "cy": [95, 98, 100], "di": [72, 85, 90]}
report = []
for student, g in sorted(grades.items()):
    avg = statistics.mean(g)
    letter = "A" if avg >= 90 else "B" if avg >= 80 else "C" if avg >= 70 else "F"
    report.append((student, round(avg, 2), letter))
for r in report:
    print(*r)
all_scores = [s for g in grades.values() for s in g]
print(statistics.median(all_scores), round(statistics.pstdev(all_scores), 4))
print([s for s, avg, _ in report if avg > statistics.mean(all_scores)])
