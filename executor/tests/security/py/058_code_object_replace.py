# attempt: forge a code object with replace() and run it
# expect: outside_subset:PY_INTROSPECTION
def f():
    return 1
code = f.__code__.replace(co_consts=(None, "{{SECRET_PATH}}"))
print(type(f)(code, {})())
