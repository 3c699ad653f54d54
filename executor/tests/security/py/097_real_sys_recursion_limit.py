# attempt: raise the recursion limit on the real sys (through typing) to overflow the host stack
# expect: error:RecursionError
import typing
real = vars(typing)["sys"]
real.setrecursionlimit(10**6)
def down(n):
    return down(n + 1)
down(0)
