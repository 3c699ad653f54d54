# attempt: read a file through the io module
# expect: outside_subset:PY_IMPORT_DENIED | outside_subset:PY_FILE_IO
import io
print(io.open("{{SECRET_PATH}}").read())
