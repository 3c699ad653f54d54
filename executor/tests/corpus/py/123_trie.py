class Trie:
    def __init__(self):
        self.root = {}
    def insert(self, word):
        node = self.root
        for ch in word:
            node = node.setdefault(ch, {})
        node["$"] = True
    def starts_with(self, prefix):
        node = self.root
        for ch in prefix:
            if ch not in node:
                return []
            node = node[ch]
        out = []
        def collect(n, acc):
            for k in sorted(n):
                if k == "$":
                    out.append(prefix + acc)
                else:
                    collect(n[k], acc + k)
        collect(node, "")
        return out

t = Trie()
for w in ["car", "card", "care", "cat", "dog", "do", "dot"]:
    t.insert(w)
print(t.starts_with("ca"), t.starts_with("do"), t.starts_with("x"))
