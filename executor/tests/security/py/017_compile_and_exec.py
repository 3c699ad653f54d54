# attempt: compile a code object from a built string and run it
# expect: outside_subset:PY_DYNAMIC_EVAL
src = "open('{{CANARY}}', 'w').write('x')"
exec(compile(src, "<x>", "exec"))
