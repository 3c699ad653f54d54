# attempt: exec of bytes decoded at run time
# expect: outside_subset:PY_DYNAMIC_EVAL
payload = bytes([105, 109, 112, 111, 114, 116, 32, 111, 115]).decode()
exec(payload + "\nos.system('touch {{CANARY}}')")
