# attempt: eval of a string assembled at run time
# expect: outside_subset:PY_DYNAMIC_EVAL
code = "__imp" + "ort__('o' + 's').system('touch {{CANARY}}')"
eval(code)
