from collections import deque

def simulate(arrivals, service_time):
    queue = deque()
    clock = 0
    waits = []
    events = sorted(arrivals)
    busy_until = 0
    for t in events:
        start = max(t, busy_until)
        waits.append(start - t)
        busy_until = start + service_time
    return waits, busy_until

waits, end = simulate([0, 1, 2, 10, 11, 11, 30], 3)
print(waits, end, sum(waits) / len(waits))
