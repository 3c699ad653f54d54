import textwrap

text = ("The quick brown fox jumps over the lazy dog. " * 3).strip()
print(textwrap.fill(text, width=30))
print(textwrap.wrap(text, width=40)[1])
print(textwrap.shorten("Hello world, this is a long sentence", width=20, placeholder="..."))
code = """
    def f():
        return 1
"""
print(textwrap.dedent(code).strip())
print(textwrap.indent("a\nb\n", "> "), end="")
print(textwrap.fill("short", width=10, initial_indent="* ", subsequent_indent="  "))
