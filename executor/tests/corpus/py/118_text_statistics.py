text = """It was a bright cold day in April, and the clocks were striking thirteen.
Winston Smith, his chin nuzzled into his breast in an effort to escape the vile wind,
slipped quickly through the glass doors of Victory Mansions."""

import re
from collections import Counter

words = re.findall(r"[a-z']+", text.lower())
print(len(words), len(set(words)))
print(Counter(words).most_common(3))
sentences = [s for s in re.split(r"[.!?]\s*", text) if s]
print(len(sentences))
longest = max(words, key=lambda w: (len(w), w))
print(longest)
avg = sum(map(len, words)) / len(words)
print(f"{avg:.3f}")
caps = re.findall(r"\b[A-Z][a-z]+", text)
print(caps)
