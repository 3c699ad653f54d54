# attempt: spin forever while swallowing every exception, including the interrupt
# expect: timeout | step_limit
n = 0
while True:
    try:
        while True:
            n += 1
    except BaseException:
        pass
