# attempt: import os with a module name built at run time
# expect: outside_subset:PY_DYNAMIC_EVAL | outside_subset:PY_IMPORT_DENIED
name = "".join(["o", "s"])
__import__(name).system("touch {{CANARY}}")
