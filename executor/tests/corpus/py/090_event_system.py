class EventBus:
    def __init__(self):
        self.handlers = {}
    def on(self, event):
        def register(fn):
            self.handlers.setdefault(event, []).append(fn)
            return fn
        return register
    def emit(self, event, *args):
        return [h(*args) for h in self.handlers.get(event, [])]

bus = EventBus()

@bus.on("greet")
def hello(name):
    return f"hello {name}"

@bus.on("greet")
def shout(name):
    return f"HEY {name.upper()}"

@bus.on("sum")
def total(*nums):
    return sum(nums)

print(bus.emit("greet", "ana"))
print(bus.emit("sum", 1, 2, 3))
print(bus.emit("unknown"))
