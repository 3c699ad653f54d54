import heapq

def dijkstra(graph, source):
    dist = {source: 0}
    pq = [(0, source)]
    while pq:
        d, node = heapq.heappop(pq)
        if d > dist.get(node, float("inf")):
            continue
        for nxt, w in graph.get(node, []):
            nd = d + w
            if nd < dist.get(nxt, float("inf")):
                dist[nxt] = nd
                heapq.heappush(pq, (nd, nxt))
    return dist

graph = {
    "A": [("B", 4), ("C", 1)],
    "C": [("B", 2), ("D", 7)],
    "B": [("D", 1)],
    "D": [("E", 3)],
}
result = dijkstra(graph, "A")
for node in sorted(result):
    print(node, result[node])
