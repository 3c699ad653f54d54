# attempt: resist the interrupt from a finally block
# expect: timeout | step_limit
def spin():
    try:
        while True:
            pass
    finally:
        spin()
spin()
