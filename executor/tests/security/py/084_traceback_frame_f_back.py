# attempt: a traceback's frame and its f_back / f_globals by built names
# expect: error:PermissionError
try:
    1 / 0
except ZeroDivisionError as e:
    tb = e.__traceback__
frame = getattr(tb, "tb_" + "frame")
print(getattr(frame, "f_" + "back"), getattr(frame, "f_" + "globals"))
