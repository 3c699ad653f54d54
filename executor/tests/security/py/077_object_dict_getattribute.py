# attempt: object.__dict__['__getattribute__'] with built names reads a function's globals
# expect: error:PermissionError
import json
get = object.__dict__["__getattri" + "bute__"]
g = get(json.dumps, "__glo" + "bals__")
print(g["__buil" + "tins__"])
