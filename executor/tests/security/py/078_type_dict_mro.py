# attempt: type.__dict__['mro'] to walk classes (only lists classes the program already holds)
# expect: ok
mro = type.__dict__["m" + "ro"]
names = [c.__name__ for c in mro(bool)]
assert names == ["bool", "int", "object"], names
print(names)
