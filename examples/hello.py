# edgecoder run examples/hello.py
from collections import Counter


def word_counts(text):
    return Counter(text.lower().split())


counts = word_counts("the quick brown fox jumps over the lazy dog the end")
for word, n in counts.most_common(3):
    print(f"{word}: {n}")
