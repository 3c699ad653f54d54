# attempt: walk attributes inside a format string (str.format can read but never call)
# expect: ok | outside_subset:PY_INTROSPECTION | error:*
print("{0.__class__.__base__.__subclasses__}".format(0)[:10])
print("{0.__init__.__globals__}".format(lambda: 0)[:1])
