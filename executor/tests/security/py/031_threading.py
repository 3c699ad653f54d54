# attempt: start a thread that outlives the run
# expect: outside_subset:PY_CONCURRENCY | outside_subset:PY_IMPORT_DENIED
import threading
def spin():
    while True:
        pass
threading.Thread(target=spin, daemon=True).start()
