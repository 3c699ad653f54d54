# attempt: a generator's frame through its type's __dict__, then the frame's globals
# expect: error:PermissionError
g = (x for x in [1, 2])
frame = type(g).__dict__["gi_" + "frame"].__get__(g)
print(type(frame).__dict__["f_" + "globals"].__get__(frame))
