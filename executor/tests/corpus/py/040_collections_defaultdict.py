from collections import defaultdict

graph = defaultdict(list)
edges = [("a", "b"), ("a", "c"), ("b", "c"), ("c", "d")]
for src, dst in edges:
    graph[src].append(dst)
    graph[dst]
print(dict(graph))

by_len = defaultdict(set)
for w in ["hi", "to", "cat", "dog", "a"]:
    by_len[len(w)].add(w)
print({k: sorted(v) for k, v in sorted(by_len.items())})

nested = defaultdict(lambda: defaultdict(int))
nested["x"]["y"] += 2
nested["x"]["z"] += 1
print({k: dict(v) for k, v in nested.items()})
counts = defaultdict(int)
for ch in "hello":
    counts[ch] += 1
print(sorted(counts.items()))
