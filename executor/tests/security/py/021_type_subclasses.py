# attempt: type.__subclasses__(object) to list every class
# expect: outside_subset:PY_INTROSPECTION
classes = type.__subclasses__(object)
print(len(classes), [c.__name__ for c in classes if "IO" in c.__name__])
