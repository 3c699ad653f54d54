import bisect

def grade(score, breakpoints=(60, 70, 80, 90), grades="FDCBA"):
    return grades[bisect.bisect(breakpoints, score)]

print([grade(s) for s in [33, 99, 77, 70, 89, 90, 100]])
data = [1, 3, 3, 3, 7, 9]
print(bisect.bisect_left(data, 3), bisect.bisect_right(data, 3))
bisect.insort(data, 5)
print(data)
bisect.insort_left(data, 3)
print(data)
scores = sorted([("bob", 70), ("amy", 95), ("cal", 82)], key=lambda t: t[1])
keys = [s for _, s in scores]
i = bisect.bisect_left(keys, 80)
print(scores[i:])
print(bisect.bisect_left(data, 4, lo=2, hi=5))
