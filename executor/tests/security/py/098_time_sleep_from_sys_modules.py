# attempt: time.sleep (a native call the wall clock cannot interrupt) through sys.modules
# expect: error:AttributeError | error:KeyError
import typing
modules = vars(typing)["sys"].modules
modules["time"].sleep(10**6)
