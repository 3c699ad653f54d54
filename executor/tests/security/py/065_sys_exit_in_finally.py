# attempt: SystemExit raised from a finally block must end only the program, never the host
# expect: ok | error:* | outside_subset:PY_IMPORT_DENIED
import sys
try:
    raise ValueError("first")
finally:
    sys.exit(0)
