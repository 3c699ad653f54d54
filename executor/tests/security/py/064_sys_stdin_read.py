# attempt: read the host's stdin through sys.stdin (an empty stream or an error is fine)
# expect: ok | error:* | outside_subset:PY_FILE_IO | outside_subset:PY_IMPORT_DENIED
import sys
data = sys.stdin.read()
print("read", len(data), "characters")
