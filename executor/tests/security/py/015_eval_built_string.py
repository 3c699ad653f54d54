# attempt: eval of a string assembled at run time (the guarded eval checks it when it runs)
# expect: error:PermissionError
code = "__imp" + "ort__('o' + 's').system('touch {{CANARY}}')"
eval(code)
