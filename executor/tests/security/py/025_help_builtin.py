# attempt: help() imports pydoc, which reaches os, a pager and the terminal
# expect: outside_subset:PY_INTROSPECTION | outside_subset:PY_IMPORT_DENIED | error:*
help(print)
