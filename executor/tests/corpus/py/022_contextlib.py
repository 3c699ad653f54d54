from contextlib import contextmanager, suppress

@contextmanager
def tag(name):
    print(f"<{name}>")
    try:
        yield name.upper()
    finally:
        print(f"</{name}>")

with tag("div") as t:
    print("inside", t)
    with tag("span"):
        print("text")

with suppress(ZeroDivisionError):
    print("before")
    1 / 0
    print("never")
print("suppressed")
