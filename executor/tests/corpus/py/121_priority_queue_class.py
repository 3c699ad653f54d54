import heapq
import itertools

class PriorityQueue:
    def __init__(self):
        self._heap = []
        self._counter = itertools.count()
        self._removed = set()
    def push(self, item, priority):
        heapq.heappush(self._heap, (priority, next(self._counter), item))
    def pop(self):
        while self._heap:
            _, count, item = heapq.heappop(self._heap)
            if count not in self._removed:
                return item
        raise KeyError("pop from empty queue")
    def __len__(self):
        return len(self._heap)

pq = PriorityQueue()
for prio, job in [(2, "email"), (1, "deploy"), (3, "lunch"), (1, "hotfix")]:
    pq.push(job, prio)
print([pq.pop() for _ in range(4)])
try:
    pq.pop()
except KeyError as e:
    print("empty:", e)
