# attempt: typing imports sys: reach sys.modules through it
# expect: outside_subset:PY_INTROSPECTION | outside_subset:PY_IMPORT_DENIED | error:*
import typing
typing.sys.modules["os"].system("touch {{CANARY}}")
