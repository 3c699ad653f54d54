# attempt: recursion that catches RecursionError and keeps recursing (exponential)
# expect: timeout | step_limit | error:RecursionError
def f():
    try:
        f()
    except RecursionError:
        f()
f()
