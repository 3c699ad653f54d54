# attempt: the real sys through typing's globals, then _getframe / settrace by built names
# expect: error:PermissionError
import typing
real = vars(typing)["sys"]
assert vars(real).get("set" + "trace") is None
assert vars(real).get("set" + "profile") is None
frame = vars(real)["_get" + "frame"](0)
print(frame)
