# attempt: forge a code object: replace() its file name, or build one from bytes
# expect: error:PermissionError | error:AttributeError
c = compile("1", "x", "eval")
try:
    c = vars(type(c))["rep" + "lace"](c, co_filename="copy.py")
except KeyError:
    pass
code_type = type(c)
print(code_type(0, 0, 0, 0, 0, 0, b"\x00", (), (), (), "copy.py", "f", "f", 1, b"", b"", (), ()))
