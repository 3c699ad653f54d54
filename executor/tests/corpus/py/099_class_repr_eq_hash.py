class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
    def __repr__(self):
        return f"Point({self.x}, {self.y})"
    def __eq__(self, other):
        if not isinstance(other, Point):
            return NotImplemented
        return (self.x, self.y) == (other.x, other.y)
    def __hash__(self):
        return hash((self.x, self.y))
    def __lt__(self, other):
        return (self.x, self.y) < (other.x, other.y)

pts = [Point(2, 1), Point(1, 5), Point(2, 1), Point(0, 0)]
print(sorted(pts))
print(len(set(pts)), Point(1, 5) in pts, pts.index(Point(2, 1)), pts.count(Point(2, 1)))
lookup = {Point(0, 0): "origin"}
print(lookup[Point(0, 0)], Point(1, 1) == (1, 1))
