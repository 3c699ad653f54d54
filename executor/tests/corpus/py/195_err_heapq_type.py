import heapq

heap = []
heapq.heappush(heap, (1, "a"))
heapq.heappush(heap, (1, "b"))
print(heap)
heapq.heappush(heap, (1, None))
print(heap)
