# attempt: __reduce_ex__ hands out copyreg functions; read their globals by a built name
# expect: error:PermissionError | error:ModuleNotFoundError
newobj = (1).__reduce_ex__(2)[0]
desc = type(newobj).__dict__["__glo" + "bals__"]
print(desc.__get__(newobj)["__buil" + "tins__"])
