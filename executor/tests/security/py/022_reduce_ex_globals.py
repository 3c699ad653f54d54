# attempt: object.__reduce_ex__ to reach copyreg and its module globals
# expect: outside_subset:PY_INTROSPECTION
class A:
    pass
fn = object.__reduce_ex__(A(), 2)[0]
print(fn.__globals__["__builtins__"]["open"]("{{SECRET_PATH}}").read())
