import string

print(string.ascii_lowercase)
print(string.ascii_uppercase[:5], string.digits, string.hexdigits)
print(len(string.punctuation), len(string.printable))

def caesar(text, shift):
    lower = string.ascii_lowercase
    upper = string.ascii_uppercase
    table = str.maketrans(lower + upper, lower[shift:] + lower[:shift] + upper[shift:] + upper[:shift])
    return text.translate(table)

enc = caesar("Hello, World!", 3)
print(enc, caesar(enc, -3))
t = string.Template("$who likes ${what}s")
print(t.substitute(who="Tim", what="kiwi"))
print(t.safe_substitute(who="Ann"))
print(string.capwords("hello   big world"))
