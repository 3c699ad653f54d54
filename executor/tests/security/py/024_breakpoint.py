# attempt: drop into the debugger with breakpoint()
# expect: outside_subset:PY_INTROSPECTION | outside_subset:PY_DYNAMIC_EVAL | error:*
x = 1
breakpoint()
print("after breakpoint", x)
