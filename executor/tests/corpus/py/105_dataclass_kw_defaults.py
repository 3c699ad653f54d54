from dataclasses import dataclass, field, astuple
from typing import List

@dataclass
class Config:
    host: str = "localhost"
    port: int = 8080
    paths: List[str] = field(default_factory=lambda: ["/"])
    debug: bool = False

a = Config()
b = Config(port=9000, debug=True)
a.paths.append("/api")
print(a)
print(b)
print(astuple(b))
print(Config() == Config(), Config(port=1) == Config())

@dataclass(frozen=True)
class Coord:
    lat: float
    lon: float

c = {Coord(1.5, 2.5): "here"}
print(c[Coord(1.5, 2.5)])
