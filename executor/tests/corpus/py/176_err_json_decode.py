import json

good = json.loads('{"ok": true}')
print(good)
bad = json.loads('{"ok": tru}')
print(bad)
