class Counter:
    instances = 0
    def __init__(self):
        Counter.instances += 1
        self.id = Counter.instances

class Config:
    defaults = {"debug": False}
    def __init__(self, **kw):
        self.settings = {**self.defaults, **kw}
    def __getattr__(self, name):
        try:
            return self.settings[name]
        except KeyError:
            raise AttributeError(name)

a, b, c = Counter(), Counter(), Counter()
print(Counter.instances, a.id, c.id)
cfg = Config(level=3)
print(cfg.debug, cfg.level)
print(hasattr(cfg, "missing"), getattr(cfg, "missing", "fallback"))
setattr(a, "label", "first")
print(a.label, vars(a))
