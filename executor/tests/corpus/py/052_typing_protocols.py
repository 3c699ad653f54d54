from typing import NamedTuple, TypedDict, Literal, Final, Protocol

class Point(NamedTuple):
    x: int
    y: int = 0

class Movie(TypedDict):
    title: str
    year: int

class Greeter(Protocol):
    def greet(self) -> str: ...

class English:
    def greet(self) -> str:
        return "hello"

Mode = Literal["r", "w"]
MAX: Final = 3

def welcome(g: Greeter) -> str:
    return g.greet().upper()

def open_mode(m: Mode) -> str:
    return {"r": "read", "w": "write"}[m]

p = Point(1)
print(p, p._replace(y=5), p.x)
m: Movie = {"title": "Up", "year": 2009}
print(m["title"], m["year"] + MAX)
print(welcome(English()), open_mode("w"))
