# attempt: dataclasses imports sys: use sys._getframe to reach frames and builtins
# expect: outside_subset:PY_INTROSPECTION | outside_subset:PY_IMPORT_DENIED | error:*
import dataclasses
f = dataclasses.sys._getframe(0)
print(f.f_builtins["open"]("{{SECRET_PATH}}").read())
