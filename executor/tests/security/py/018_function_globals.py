# attempt: reach builtins through a function's __globals__
# expect: outside_subset:PY_INTROSPECTION
def f():
    pass
f.__globals__["__builtins__"]["open"]("{{CANARY}}", "w").write("x")
