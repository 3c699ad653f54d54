# attempt: register a finalizer that runs at interpreter teardown and sleeps forever
# expect: error:AttributeError | error:KeyError
import copy, typing
weakref = vars(copy)["weakref"]
class Holder:
    pass
keep = Holder()
sleep = vars(typing)["sys"].modules["time"].sleep
weakref.finalize(keep, sleep, 10**6)
print("registered")
