def is_palindrome(s):
    cleaned = [c.lower() for c in s if c.isalnum()]
    return cleaned == cleaned[::-1]

def word_freq(text):
    freq = {}
    for w in text.lower().replace(",", "").replace(".", "").split():
        freq[w] = freq.get(w, 0) + 1
    return sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))[:3]

def anagram_groups(words):
    groups = {}
    for w in words:
        groups.setdefault("".join(sorted(w)), []).append(w)
    return [g for g in groups.values() if len(g) > 1]

print(is_palindrome("A man, a plan, a canal: Panama"), is_palindrome("hello"))
print(word_freq("It was the best of times, it was the worst of times."))
print(anagram_groups(["listen", "silent", "enlist", "google", "gogole", "cat"]))
print(" ".join(w[::-1] for w in "reverse each word".split()))
print("".join(c for c in "h-e-l-l-o" if c != "-"))
