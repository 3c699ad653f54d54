# attempt: json imports codecs: open a file with json.codecs.open
# expect: outside_subset:PY_INTROSPECTION | outside_subset:PY_FILE_IO | error:*
import json
print(json.codecs.open("{{SECRET_PATH}}").read())
