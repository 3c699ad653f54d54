# attempt: call libc through ctypes
# expect: outside_subset:PY_IMPORT_DENIED
import ctypes
ctypes.CDLL("libc.so.6").system(b"touch {{CANARY}}")
