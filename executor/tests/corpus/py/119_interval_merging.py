def merge_intervals(intervals):
    out = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out

def free_slots(busy, day_start, day_end):
    slots, cur = [], day_start
    for s, e in merge_intervals(busy):
        if s > cur:
            slots.append((cur, s))
        cur = max(cur, e)
    if cur < day_end:
        slots.append((cur, day_end))
    return slots

print(merge_intervals([[1, 3], [2, 6], [8, 10], [15, 18], [17, 20]]))
print(free_slots([(9, 10), (12, 13), (9.5, 11)], 8, 17))
