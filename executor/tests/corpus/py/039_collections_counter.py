from collections import Counter

text = "the cat and the hat and the bat"
words = Counter(text.split())
print(words.most_common(2))
print(words["the"], words["dog"])
letters = Counter("abracadabra")
print(sorted(letters.items()))
print(letters.most_common(1))
a = Counter(a=3, b=1)
b = Counter(a=1, b=2, c=5)
print(sorted((a + b).items()), sorted((a - b).items()))
print(sorted((a & b).items()), sorted((a | b).items()))
a.update("aab")
print(a["a"], a["b"], a.total())
print(sorted(Counter([1, 2, 2, 3, 3, 3]).elements()))
