import textwrap

paragraphs = [
    "EdgeCoder runs small models on the device and executes code in a sandbox.",
    "Tasks that are too hard are escalated with a clear reason code.",
]
for i, p in enumerate(paragraphs, 1):
    body = textwrap.fill(p, width=32, initial_indent=f"{i}. ", subsequent_indent="   ")
    print(body)
print(textwrap.shorten("a " * 50, width=15))
print(textwrap.wrap("supercalifragilisticexpialidocious word", width=10))
