import heapq

logs = [
    [(1, "a:start"), (5, "a:step"), (9, "a:end")],
    [(2, "b:start"), (3, "b:step"), (10, "b:end")],
    [(4, "c:start"), (8, "c:end")],
]
for ts, event in heapq.merge(*logs):
    print(ts, event)
print(heapq.nlargest(2, logs, key=len)[0][0])
