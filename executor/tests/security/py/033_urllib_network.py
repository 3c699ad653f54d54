# attempt: HTTP request with urllib
# expect: outside_subset:PY_IMPORT_DENIED
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:80/").read())
