from enum import Enum

class Color(Enum):
    RED = 1
    GREEN = 2

print(Color(1).name)
print(Color(3))
