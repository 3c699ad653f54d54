import string

class Redactor(string.Formatter):
    def format_field(self, value, spec):
        if spec == "redact":
            return "*" * len(str(value))
        return super().format_field(value, spec)

f = Redactor()
print(f.format("user={user} pin={pin:redact} n={n:>4}", user="ann", pin=1234, n=7))
print([t[1] for t in string.Formatter().parse("a{x}b{y!r:>3}c")])
print(string.ascii_letters.index("Z"), string.octdigits, repr(string.whitespace[:3]))
