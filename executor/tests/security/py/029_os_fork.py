# attempt: fork the host process
# expect: outside_subset:PY_IMPORT_DENIED | outside_subset:PY_CONCURRENCY
import os
pid = os.fork()
print("forked", pid)
