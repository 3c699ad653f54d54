# attempt: reach __subclasses__ through eval of a string assembled at run time
# expect: error:PermissionError
walk = "()." + "__cla" + "ss__.__ba" + "ses__[0].__subcl" + "asses__()"
for cls in eval(walk):
    if cls.__name__ == "Popen":
        cls(["touch", "{{CANARY}}"])
