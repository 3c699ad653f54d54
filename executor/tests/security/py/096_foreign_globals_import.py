# attempt: run code under foreign globals so the import guard does not see user code
# expect: error:ModuleNotFoundError | error:PermissionError
env = {}
exec("b = vars()['__buil' + 'tins__']", env)
b = env["b"]
imp = (vars(b) if not isinstance(b, dict) else b)["__imp" + "ort__"]
f = type(lambda: 0)(compile("m = imp('ti' + 'me')", "<lib>", "exec"), {"imp": imp})
f()
print("imported")
