# attempt: unbounded recursion
# expect: error:RecursionError | step_limit | memory_limit
def f(n):
    return f(n + 1) + 1
f(0)
