def two_sum_sorted(xs, target):
    i, j = 0, len(xs) - 1
    while i < j:
        s = xs[i] + xs[j]
        if s == target:
            return i, j
        if s < target:
            i += 1
        else:
            j -= 1
    return None

def longest_unique(s):
    seen, start, best = {}, 0, ""
    for i, ch in enumerate(s):
        if seen.get(ch, -1) >= start:
            start = seen[ch] + 1
        seen[ch] = i
        if i - start + 1 > len(best):
            best = s[start:i + 1]
    return best

def max_window(xs, k):
    cur = best = sum(xs[:k])
    for i in range(k, len(xs)):
        cur += xs[i] - xs[i - k]
        best = max(best, cur)
    return best

print(two_sum_sorted([1, 2, 4, 7, 11, 15], 15), two_sum_sorted([1, 2], 9))
print(longest_unique("abcabcbb"), longest_unique("pwwkew"), repr(longest_unique("")))
print(max_window([2, 1, 5, 1, 3, 2], 3))
