import re

RULES = [
    ("too short", lambda p: len(p) >= 8),
    ("needs digit", lambda p: re.search(r"\d", p)),
    ("needs upper", lambda p: any(c.isupper() for c in p)),
    ("needs symbol", lambda p: re.search(r"[^\w\s]", p)),
]

def check(password):
    problems = [msg for msg, rule in RULES if not rule(password)]
    return "ok" if not problems else ", ".join(problems)

for pw in ["abc", "abcdefgh1", "Abcdefgh1", "Abcdefgh1!", "P@ss w0rd"]:
    print(f"{pw!r:14} {check(pw)}")
