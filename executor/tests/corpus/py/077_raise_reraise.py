def validate(age):
    if not isinstance(age, int):
        raise TypeError("age must be int")
    if age < 0:
        raise ValueError("age must be >= 0")
    return age

log = []
for v in [5, -1, "x"]:
    try:
        validate(v)
        log.append("ok")
    except (TypeError, ValueError) as e:
        log.append(f"{type(e).__name__}: {e}")
print(log)

def wrapper():
    try:
        validate(-5)
    except ValueError:
        print("logging and re-raising")
        raise

try:
    wrapper()
except ValueError as e:
    print("outer got", e)
