# attempt: print.__self__ (the builtins module) by a built name and by its descriptor
# expect: error:PermissionError
mod = type(print).__dict__["__se" + "lf__"].__get__(print)
print(vars(mod)["op" + "en"]("{{SECRET_PATH}}").read())
