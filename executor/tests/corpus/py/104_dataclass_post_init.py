from dataclasses import dataclass, field, replace, fields

@dataclass
class Rectangle:
    width: float
    height: float
    area: float = field(init=False)
    def __post_init__(self):
        if self.width < 0 or self.height < 0:
            raise ValueError("negative size")
        self.area = self.width * self.height

@dataclass(order=True)
class Task:
    priority: int
    name: str = field(compare=False)
    done: bool = field(default=False, repr=False)

r = Rectangle(3, 4)
print(r, r.area)
r2 = replace(r, width=10)
print(r2)
print([f.name for f in fields(Task)])
tasks = sorted([Task(3, "c"), Task(1, "a"), Task(2, "b")])
print(tasks)
print(Task(1, "x") == Task(1, "y"))
try:
    Rectangle(-1, 2)
except ValueError as e:
    print("rejected:", e)
