from typing import Dict, List, Optional, Tuple, Union, Callable, Iterator, TypeVar, Generic, Any

T = TypeVar("T")

class Stack(Generic[T]):
    def __init__(self) -> None:
        self._items: List[T] = []
    def push(self, item: T) -> None:
        self._items.append(item)
    def pop(self) -> Optional[T]:
        return self._items.pop() if self._items else None
    def __len__(self) -> int:
        return len(self._items)

def apply(f: Callable[[int], int], xs: List[int]) -> List[int]:
    return [f(x) for x in xs]

def parse(s: str) -> Union[int, float]:
    return float(s) if "." in s else int(s)

def pairs(d: Dict[str, int]) -> Iterator[Tuple[str, int]]:
    yield from sorted(d.items())

s: Stack[int] = Stack()
s.push(1)
s.push(2)
print(s.pop(), len(s), s.pop(), s.pop())
print(apply(lambda x: x + 1, [1, 2]))
print(parse("3"), parse("3.5"))
print(list(pairs({"b": 2, "a": 1})))
print(apply.__annotations__["return"] == List[int])
