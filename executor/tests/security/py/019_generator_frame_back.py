# attempt: climb frames through a generator's gi_frame.f_back
# expect: outside_subset:PY_INTROSPECTION
def gen():
    yield 1
g = gen()
next(g)
frame = g.gi_frame
while frame.f_back is not None:
    frame = frame.f_back
print(frame.f_globals.keys(), frame.f_builtins["open"]("{{SECRET_PATH}}").read())
