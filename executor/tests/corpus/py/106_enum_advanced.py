from enum import Enum, Flag, auto, unique

class Permission(Flag):
    READ = auto()
    WRITE = auto()
    EXEC = auto()

@unique
class Planet(Enum):
    MERCURY = (3.303e23, 2.4397e6)
    EARTH = (5.976e24, 6.37814e6)
    def __init__(self, mass, radius):
        self.mass = mass
        self.radius = radius
    @property
    def gravity(self):
        return 6.673e-11 * self.mass / (self.radius ** 2)

rw = Permission.READ | Permission.WRITE
print(Permission.READ in rw, Permission.EXEC in rw, bool(rw & Permission.WRITE))
print(rw.value, Permission(5).value)
for p in Planet:
    print(p.name, round(p.gravity, 2))

class Weekday(Enum):
    MON = 1
    TUE = 2
    def next(self):
        members = list(type(self))
        return members[(members.index(self) + 1) % len(members)]

print(Weekday.MON.next().name, Weekday.TUE.next().name)
print(Weekday(2) is Weekday.TUE, Weekday.MON == 1)
