# attempt: an __init_subclass__ hook records subclasses; then list them by a built name
# expect: error:PermissionError
seen = []
class Spy:
    def __init_subclass__(cls, **kwargs):
        seen.append(cls.__name__)
        super().__init_subclass__(**kwargs)
class Child(Spy):
    pass
print(seen)
print(vars(type)["__sub" + "classes__"](Spy))
