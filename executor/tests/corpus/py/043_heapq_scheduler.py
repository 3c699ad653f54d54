import heapq

tasks = [(3, "write"), (1, "plan"), (4, "test"), (2, "code")]
heapq.heapify(tasks)
order = []
while tasks:
    order.append(heapq.heappop(tasks)[1])
print(order)
nums = [5, 1, 8, 3, 9, 2, 7]
print(heapq.nlargest(3, nums), heapq.nsmallest(2, nums))
print(heapq.nsmallest(2, ["bb", "a", "ccc"], key=len))
h = []
for x in [5, 3, 8]:
    heapq.heappush(h, -x)
print(-heapq.heappop(h))
print(heapq.heappushpop(h, -10), sorted(h))
print(list(heapq.merge([1, 4, 7], [2, 5, 8], [3])))
