# attempt: string.Formatter.get_field fetches an attribute chain for us (from string.py)
# expect: error:PermissionError
import string, json
obj, _ = string.Formatter().get_field("0.__glo" + "bals__", (json.dumps,), {})
print(obj["__buil" + "tins__"])
