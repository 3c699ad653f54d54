# attempt: import os through importlib
# expect: outside_subset:PY_IMPORT_DENIED
import importlib
importlib.import_module("os").system("touch {{CANARY}}")
