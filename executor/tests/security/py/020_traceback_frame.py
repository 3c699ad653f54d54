# attempt: reach frames and builtins through an exception's traceback
# expect: outside_subset:PY_INTROSPECTION
try:
    1 / 0
except ZeroDivisionError as e:
    fr = e.__traceback__.tb_frame
    print(fr.f_builtins["open"]("{{SECRET_PATH}}").read())
