from enum import Enum, IntEnum, auto

class Color(Enum):
    RED = 1
    GREEN = 2
    BLUE = 3

class Status(IntEnum):
    PENDING = auto()
    RUNNING = auto()
    DONE = auto()

print(Color.RED, Color(2), Color["BLUE"])
print(Color.RED.name, Color.RED.value)
print([c.name for c in Color])
print(Status.DONE > Status.PENDING, int(Status.RUNNING))
print(Color.GREEN in Color, len(Color))
transitions = {Status.PENDING: Status.RUNNING, Status.RUNNING: Status.DONE}
s = Status.PENDING
while s in transitions:
    print("->", s.name)
    s = transitions[s]
print("final", s.name)
