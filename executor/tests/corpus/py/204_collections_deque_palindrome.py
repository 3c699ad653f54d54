from collections import deque, Counter, OrderedDict

def is_pal(s):
    d = deque(c.lower() for c in s if c.isalnum())
    while len(d) > 1:
        if d.popleft() != d.pop():
            return False
    return True

print([is_pal(s) for s in ["Racecar", "No lemon, no melon", "abcd", ""]])
d = deque(range(5), maxlen=5)
d.extend([5, 6])
d.extendleft([-1])
print(list(d), d.maxlen, d.count(3), d.index(4))
od = OrderedDict.fromkeys("abcde")
od.move_to_end("a")
od.move_to_end("e", last=False)
print("".join(od))
print(Counter("hello world").most_common(3)[0])
