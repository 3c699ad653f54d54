from collections import Counter

def is_anagram(a, b):
    clean = lambda s: Counter(c for c in s.lower() if c.isalpha())
    return clean(a) == clean(b)

def can_build(note, magazine):
    return not (Counter(note) - Counter(magazine))

print(is_anagram("Dormitory", "dirty room"), is_anagram("hello", "world"))
print(can_build("aab", "baa"), can_build("aabb", "ab"))
c = Counter("gallahad")
print(c.most_common(2), c["z"])
c.subtract("lll")
print(sorted(c.items()))
