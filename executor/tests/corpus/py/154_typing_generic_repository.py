from typing import Dict, Generic, Optional, TypeVar, List
from dataclasses import dataclass

K = TypeVar("K")
V = TypeVar("V")

class Repo(Generic[K, V]):
    def __init__(self) -> None:
        self._items: Dict[K, V] = {}
    def save(self, key: K, value: V) -> None:
        self._items[key] = value
    def get(self, key: K) -> Optional[V]:
        return self._items.get(key)
    def all(self) -> List[V]:
        return list(self._items.values())

@dataclass
class Book:
    isbn: str
    title: str

repo: Repo[str, Book] = Repo()
repo.save("1", Book("1", "Dune"))
repo.save("2", Book("2", "Emma"))
print(repo.get("1"), repo.get("3"))
print([b.title for b in repo.all()])
