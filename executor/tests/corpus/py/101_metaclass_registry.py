class Registry(type):
    plugins = {}
    def __new__(mcls, name, bases, ns):
        cls = super().__new__(mcls, name, bases, ns)
        if bases:
            mcls.plugins[ns.get("key", name.lower())] = cls
        return cls

class Plugin(metaclass=Registry):
    def run(self):
        return f"{type(self).__name__} running"

class Csv(Plugin):
    key = "csv"

class Xml(Plugin):
    pass

print(sorted(Registry.plugins))
print(Registry.plugins["csv"]().run(), Registry.plugins["xml"]().run())
print(type(Csv).__name__, isinstance(Csv(), Plugin))
