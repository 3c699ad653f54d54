# attempt: run a shell command through os.system
# expect: outside_subset:PY_IMPORT_DENIED
import os
os.system("touch {{CANARY}}")
