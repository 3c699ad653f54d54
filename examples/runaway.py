# edgecoder run --timeout 500ms --isolation process examples/runaway.py   -> exit code 4 (limit)
n = 0
while True:
    n += 1
