# attempt: read and write files through pathlib
# expect: outside_subset:PY_IMPORT_DENIED | outside_subset:PY_FILE_IO
from pathlib import Path
print(Path("{{SECRET_PATH}}").read_text())
Path("{{CANARY}}").write_text("escaped")
