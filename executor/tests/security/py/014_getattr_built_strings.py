# attempt: walk to object.__subclasses__ with getattr and strings built at run time
# expect: outside_subset:PY_INTROSPECTION | outside_subset:PY_DYNAMIC_EVAL | error:*
u = "_" * 2
base = getattr(getattr((), u + "class" + u), u + "base" + u)
subs = getattr(base, u + "subclasses" + u)()
for cls in subs:
    g = getattr(getattr(cls, u + "init" + u), u + "globals" + u, None)
    if g and "open" in g.get(u + "builtins" + u, {}):
        print(g[u + "builtins" + u]["open"]("{{SECRET_PATH}}").read())
raise RuntimeError("no escape found")
