# attempt: read a host file with the open() builtin
# expect: outside_subset:PY_FILE_IO
print(open("{{SECRET_PATH}}").read())
