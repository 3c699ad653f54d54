# attempt: create a host file with open(..., "w")
# expect: outside_subset:PY_FILE_IO
with open("{{CANARY}}", "w") as f:
    f.write("escaped")
