# attempt: read a file through eval of a string assembled at run time
# expect: error:PermissionError
print(eval("op" + "en('{{SECRET_PATH}}').read()"))
