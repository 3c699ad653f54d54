# attempt: exit() must end only the program, never the host process
# expect: ok | error:SystemExit | outside_subset:PY_CONCURRENCY | outside_subset:PY_INTROSPECTION
print("before exit")
exit(3)
