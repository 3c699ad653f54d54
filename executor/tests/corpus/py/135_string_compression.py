def compress(s):
    if not s:
        return s
    out, count = [], 1
    for a, b in zip(s, s[1:]):
        if a == b:
            count += 1
        else:
            out.append(f"{a}{count}")
            count = 1
    out.append(f"{s[-1]}{count}")
    result = "".join(out)
    return result if len(result) < len(s) else s

def decompress(s):
    import re
    return "".join(ch * int(n) for ch, n in re.findall(r"(\D)(\d+)", s))

for s in ["aabcccccaaa", "abc", "", "zzzzzzzzzzzz"]:
    c = compress(s)
    print(repr(s), "->", repr(c))
print(decompress("a2b1c5a3"))
