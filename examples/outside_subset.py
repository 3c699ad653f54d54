# edgecoder check examples/outside_subset.py   -> exit code 3, reason PY_IMPORT_DENIED
import os

print(os.listdir("/"))
