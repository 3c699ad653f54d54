from enum import Enum

class Level(str, Enum):
    LOW = "low"
    HIGH = "high"

def alert(level: Level) -> str:
    return {"low": "ok", "high": "page someone"}[level.value]

print(alert(Level.HIGH), Level("low").name, Level.LOW == "low")
print(sorted(l.value for l in Level))
try:
    Level("medium")
except ValueError:
    print("no such level")
