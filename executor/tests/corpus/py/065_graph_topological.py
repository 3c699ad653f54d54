from collections import defaultdict, deque

def topo_sort(deps):
    indeg = defaultdict(int)
    graph = defaultdict(list)
    nodes = set()
    for node, reqs in deps.items():
        nodes.add(node)
        for r in reqs:
            nodes.add(r)
            graph[r].append(node)
            indeg[node] += 1
    queue = deque(sorted(n for n in nodes if indeg[n] == 0))
    order = []
    while queue:
        n = queue.popleft()
        order.append(n)
        for m in sorted(graph[n]):
            indeg[m] -= 1
            if indeg[m] == 0:
                queue.append(m)
    if len(order) != len(nodes):
        raise ValueError("cycle detected")
    return order

print(topo_sort({"app": ["lib", "utils"], "lib": ["core"], "utils": ["core"], "test": ["app"]}))
try:
    topo_sort({"a": ["b"], "b": ["a"]})
except ValueError as e:
    print(e)
