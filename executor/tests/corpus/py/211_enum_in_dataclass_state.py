from dataclasses import dataclass, field
from enum import Enum, auto
from typing import List

class State(Enum):
    TODO = auto()
    DOING = auto()
    DONE = auto()

@dataclass
class Ticket:
    title: str
    state: State = State.TODO
    log: List[str] = field(default_factory=list)
    def advance(self):
        order = list(State)
        i = order.index(self.state)
        if i + 1 < len(order):
            self.state = order[i + 1]
            self.log.append(self.state.name)
        return self

t = Ticket("fix bug")
t.advance().advance().advance()
print(t.title, t.state, t.log)
print(Ticket("x"))
