def parse(value):
    try:
        result = int(value)
    except ValueError:
        print(f"bad value {value!r}")
        return None
    except TypeError:
        print("wrong type")
        return None
    else:
        print("parsed", result)
        return result
    finally:
        print("done with", repr(value))

print(parse("42"))
print(parse("x"))
print(parse(None))

def divide(a, b):
    try:
        return a / b
    except ZeroDivisionError as exc:
        raise ValueError("cannot divide by zero") from exc

try:
    divide(1, 0)
except ValueError as e:
    print(e, type(e.__cause__).__name__)
