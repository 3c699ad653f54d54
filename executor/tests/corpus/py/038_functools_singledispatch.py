from functools import singledispatch

@singledispatch
def describe(value):
    return f"something: {value}"

@describe.register
def _(value: int):
    return f"int {value}"

@describe.register
def _(value: list):
    return f"list of {len(value)}"

@describe.register(str)
def _(value):
    return f"str {value!r}"

for v in [3, "x", [1, 2], 2.5, True]:
    print(describe(v))
