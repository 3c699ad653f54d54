# attempt: spawn a process with subprocess
# expect: outside_subset:PY_CONCURRENCY | outside_subset:PY_IMPORT_DENIED
from subprocess import run
run(["sh", "-c", "cat {{SECRET_PATH}} > {{CANARY}}"])
