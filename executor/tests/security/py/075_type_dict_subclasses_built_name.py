# attempt: type.__dict__ lookup with a built name dodges the static __subclasses__ check
# expect: error:PermissionError
name = "__sub" + "classes__"
subs = type.__dict__[name](object)
print([c.__name__ for c in subs])
