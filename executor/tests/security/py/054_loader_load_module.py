# attempt: use the module loader object to load os
# expect: outside_subset:PY_INTROSPECTION | outside_subset:PY_IMPORT_DENIED | error:*
import math
loader = math.__loader__
loader.load_module("os").system("touch {{CANARY}}")
