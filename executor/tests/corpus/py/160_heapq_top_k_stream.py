import heapq

def top_k(stream, k):
    heap = []
    for item in stream:
        if len(heap) < k:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)
    return sorted(heap, reverse=True)

def kth_smallest_matrix(m, k):
    heap = [(row[0], i, 0) for i, row in enumerate(m)]
    heapq.heapify(heap)
    for _ in range(k - 1):
        v, r, c = heapq.heappop(heap)
        if c + 1 < len(m[r]):
            heapq.heappush(heap, (m[r][c + 1], r, c + 1))
    return heap[0][0]

print(top_k([5, 1, 9, 3, 7, 9, 2, 8], 3))
print(kth_smallest_matrix([[1, 5, 9], [10, 11, 13], [12, 13, 15]], 8))
