# attempt: str.format reads attributes named in a built format string
# expect: error:PermissionError
import json
assert "{0.__class__.__name__}".format(1) == "int"
field = "{0.__glo" + "bals__}"
print(field.format(json.dumps)[:40])
