# attempt: fetch __import__ out of the __builtins__ mapping
# expect: outside_subset:PY_INTROSPECTION
b = __builtins__
imp = b["__import__"] if isinstance(b, dict) else b.__dict__["__import__"]
imp("os").system("touch {{CANARY}}")
