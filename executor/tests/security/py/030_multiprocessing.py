# attempt: start a second process with multiprocessing
# expect: outside_subset:PY_IMPORT_DENIED | outside_subset:PY_CONCURRENCY
import multiprocessing
p = multiprocessing.Process(target=print, args=("child",))
p.start()
p.join()
