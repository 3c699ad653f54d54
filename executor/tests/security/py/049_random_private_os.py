# attempt: random imports os as random._os: use it to run a command
# expect: outside_subset:PY_INTROSPECTION | outside_subset:PY_IMPORT_DENIED | error:*
import random
random._os.system("touch {{CANARY}}")
