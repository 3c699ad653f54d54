class Shape:
    registry = []
    def __init_subclass__(cls, sides=0, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.sides = sides
        Shape.registry.append(cls.__name__)

class Triangle(Shape, sides=3):
    pass

class Square(Shape, sides=4):
    pass

print(Shape.registry, Triangle.sides, Square.sides)

class Slotted:
    __slots__ = ("a", "b")
    def __init__(self):
        self.a = 1

s = Slotted()
s.b = 2
try:
    s.c = 3
except AttributeError:
    print("no slot for c")
print(s.a + s.b)
