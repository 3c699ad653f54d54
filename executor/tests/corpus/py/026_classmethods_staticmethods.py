class Date:
    def __init__(self, y, m, d):
        self.y, self.m, self.d = y, m, d

    @classmethod
    def from_string(cls, s):
        y, m, d = map(int, s.split("-"))
        return cls(y, m, d)

    @staticmethod
    def is_leap(y):
        return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)

    def __str__(self):
        return f"{self.y:04d}/{self.m:02d}/{self.d:02d}"

class EuroDate(Date):
    def __str__(self):
        return f"{self.d:02d}.{self.m:02d}.{self.y}"

print(Date.from_string("2024-02-29"))
print(EuroDate.from_string("2023-12-01"))
print(type(EuroDate.from_string("2000-1-1")).__name__)
print([y for y in range(1896, 1912) if Date.is_leap(y)])
