# attempt: sys.exit.__self__ is the real sys module: take settrace and _getframe from it
# expect: error:PermissionError
import sys
real = getattr(sys.exit, "__se" + "lf__")
print(vars(real)["_get" + "frame"](0))
