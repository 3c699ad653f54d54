# attempt: install a signal handler to swallow the interrupt
# expect: outside_subset:PY_CONCURRENCY | outside_subset:PY_IMPORT_DENIED
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
