# attempt: import the C-level modules behind os and io
# expect: outside_subset:PY_IMPORT_DENIED
import posix
import _io
print(_io.FileIO("{{SECRET_PATH}}").read(), posix.listdir("/"))
