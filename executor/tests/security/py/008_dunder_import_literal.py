# attempt: import os with the __import__ builtin
# expect: outside_subset:PY_IMPORT_DENIED | outside_subset:PY_DYNAMIC_EVAL
__import__("os").system("touch {{CANARY}}")
