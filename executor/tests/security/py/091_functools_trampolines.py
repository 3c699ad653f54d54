# attempt: functools wrappers (lru_cache, partial, reduce) call getattr / __subclasses__ for us
# expect: error:PermissionError
import functools, json
attempts = [
    lambda: functools.lru_cache(getattr)(json.dumps, "__glo" + "bals__"),
    lambda: functools.partial(getattr, json.dumps)("__co" + "de__"),
    lambda: functools.reduce(getattr, ["__sub" + "classes__"], object)(),
    lambda: functools.lru_cache(vars(type)["__sub" + "classes__"])(object),
]
for attempt in attempts:
    try:
        print(attempt())
    except PermissionError as e:
        last = e
raise last
