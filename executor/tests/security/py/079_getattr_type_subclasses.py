# attempt: getattr(type, built name) for __subclasses__
# expect: error:PermissionError
walk = getattr(type, "__sub" + "classes__")
print(walk(object)[:3])
