# attempt: reach an already-loaded os module through sys.modules
# expect: outside_subset:PY_IMPORT_DENIED | outside_subset:PY_INTROSPECTION | error:AttributeError
import sys
sys.modules["os"].system("touch {{CANARY}}")
