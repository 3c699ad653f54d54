# attempt: copy's reduce protocol calls getattr for us (the call comes from copy.py)
# expect: error:PermissionError
import copy, json
class Evil:
    def __reduce_ex__(self, protocol):
        return (getattr, (json.dumps, "__glo" + "bals__"))
g = copy.copy(Evil())
print(g["__buil" + "tins__"])
