from dataclasses import dataclass, field, asdict

@dataclass
class Item:
    name: str
    price: float
    quantity: int = 0
    tags: list = field(default_factory=list)

    @property
    def total(self):
        return self.price * self.quantity

@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int = 0

items = [Item("pen", 1.5, 10), Item("book", 12.0, 2, ["paper"])]
for it in items:
    print(it, it.total)
print(asdict(items[1]))
print(Item("pen", 1.5, 10) == items[0])
versions = [Version(1, 2), Version(1, 0, 5), Version(0, 9)]
print(sorted(versions))
print(max(versions))
try:
    versions[0].major = 3
except Exception as e:
    print(type(e).__name__)
