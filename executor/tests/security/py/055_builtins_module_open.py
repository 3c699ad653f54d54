# attempt: import the builtins module and take open from it
# expect: outside_subset:PY_IMPORT_DENIED | outside_subset:PY_FILE_IO | outside_subset:PY_INTROSPECTION
import builtins
print(builtins.open("{{SECRET_PATH}}").read())
