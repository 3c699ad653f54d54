import re

TOKEN_SPEC = [
    ("NUMBER", r"\d+(\.\d*)?"),
    ("IDENT", r"[A-Za-z_]\w*"),
    ("OP", r"[+\-*/=<>!]=?"),
    ("LPAREN", r"\("),
    ("RPAREN", r"\)"),
    ("SKIP", r"[ \t]+"),
    ("MISMATCH", r"."),
]
MASTER = re.compile("|".join(f"(?P<{n}>{p})" for n, p in TOKEN_SPEC))
KEYWORDS = {"if", "else", "while", "return"}

def tokenize(code):
    for m in MASTER.finditer(code):
        kind, value = m.lastgroup, m.group()
        if kind == "SKIP":
            continue
        if kind == "IDENT" and value in KEYWORDS:
            kind = "KEYWORD"
        if kind == "MISMATCH":
            raise SyntaxError(f"unexpected {value!r} at {m.start()}")
        yield kind, value

print(list(tokenize("if x >= 10 return (x * 2.5)")))
try:
    list(tokenize("a = b $ c"))
except SyntaxError as e:
    print("error:", e)
