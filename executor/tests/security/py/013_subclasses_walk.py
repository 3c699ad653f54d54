# attempt: find a dangerous class through object.__subclasses__()
# expect: outside_subset:PY_INTROSPECTION
for cls in ().__class__.__bases__[0].__subclasses__():
    if cls.__name__ in ("_wrap_close", "FileIO", "Popen"):
        print(cls.__init__.__globals__["system"]("touch {{CANARY}}"))
