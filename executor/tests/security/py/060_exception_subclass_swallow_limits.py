# attempt: convert the interrupt into a normal exception and keep running
# expect: timeout | step_limit
class Sticky(Exception):
    pass
def work():
    while True:
        pass
while True:
    try:
        work()
    except KeyboardInterrupt:
        continue
    except BaseException:
        continue
