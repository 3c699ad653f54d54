students = [("ann", "math", 91), ("bob", "math", 78), ("ann", "art", 85),
            ("cid", "art", 95), ("bob", "art", 70), ("cid", "math", 88)]
by_student = {}
for name, subject, score in students:
    by_student.setdefault(name, {})[subject] = score
print(by_student)
averages = {n: sum(s.values()) / len(s) for n, s in by_student.items()}
print(averages)
best_by_subject = {}
for name, subject, score in students:
    if score > best_by_subject.get(subject, ("", -1))[1]:
        best_by_subject[subject] = (name, score)
print(dict(sorted(best_by_subject.items())))
print(sorted(averages, key=averages.get, reverse=True))
