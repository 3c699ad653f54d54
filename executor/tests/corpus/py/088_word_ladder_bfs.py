from collections import deque
import string

def ladder(begin, end, words):
    words = set(words)
    queue = deque([(begin, [begin])])
    seen = {begin}
    while queue:
        word, path = queue.popleft()
        if word == end:
            return path
        for i in range(len(word)):
            for ch in string.ascii_lowercase:
                nxt = word[:i] + ch + word[i + 1:]
                if nxt in words and nxt not in seen:
                    seen.add(nxt)
                    queue.append((nxt, path + [nxt]))
    return None

print(ladder("hit", "cog", ["hot", "dot", "dog", "lot", "log", "cog"]))
print(ladder("hit", "cog", ["hot", "dot"]))
