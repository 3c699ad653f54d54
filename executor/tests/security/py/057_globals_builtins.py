# attempt: take open out of globals()['__builtins__']
# expect: outside_subset:PY_INTROSPECTION
g = globals()
b = g["__builtins__"]
o = b["open"] if isinstance(b, dict) else getattr(b, "open")
print(o("{{SECRET_PATH}}").read())
