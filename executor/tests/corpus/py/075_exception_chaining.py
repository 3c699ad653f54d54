class ConfigError(Exception):
    pass

def load(raw):
    try:
        return {k: int(v) for k, v in (p.split("=") for p in raw.split(";"))}
    except ValueError as exc:
        raise ConfigError(f"bad config: {raw!r}") from exc

print(load("a=1;b=2"))
try:
    load("a=1;b=x")
except ConfigError as e:
    print(e)
    print(type(e.__cause__).__name__)

try:
    try:
        {}["missing"]
    except KeyError:
        raise RuntimeError("while handling")
except RuntimeError as e:
    print(type(e.__context__).__name__, e.__suppress_context__)
