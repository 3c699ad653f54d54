# attempt: vars() of the builtins module with a run-time built name
# expect: outside_subset:PY_INTROSPECTION | outside_subset:PY_FILE_IO | outside_subset:PY_DYNAMIC_EVAL | error:*
import math
mods = [m for m in vars(math).values() if type(m).__name__ == "module"]
name = "op" + "en"
b = vars(type(math)).get(name) or getattr(print, "__self__")
print(getattr(b, name)("{{SECRET_PATH}}").read())
