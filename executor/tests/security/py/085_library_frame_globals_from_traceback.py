# attempt: the frames of a library function from an exception it raised, via descriptors
# expect: error:PermissionError
import json
try:
    json.loads("{")
except ValueError as e:
    tb = e.__traceback__
get_frame = vars(type(tb))["tb_" + "frame"]
while tb.tb_next is not None:
    tb = tb.tb_next
frame = get_frame.__get__(tb)
print(vars(type(frame))["f_" + "globals"].__get__(frame)["__buil" + "tins__"])
