class Matrix:
    def __init__(self, rows):
        self.rows = [list(r) for r in rows]
    def __getitem__(self, idx):
        r, c = idx
        return self.rows[r][c]
    def __setitem__(self, idx, value):
        r, c = idx
        self.rows[r][c] = value
    def __contains__(self, value):
        return any(value in r for r in self.rows)
    def __eq__(self, other):
        return isinstance(other, Matrix) and self.rows == other.rows
    def __hash__(self):
        return hash(tuple(map(tuple, self.rows)))
    def __str__(self):
        return "\n".join(" ".join(f"{v:3}" for v in r) for r in self.rows)
    def __call__(self, vec):
        return [sum(a * b for a, b in zip(r, vec)) for r in self.rows]

m = Matrix([[1, 2], [3, 4]])
m[0, 1] = 20
print(m[0, 1], 4 in m, 99 in m)
print(m)
print(m([1, 1]))
print(m == Matrix([[1, 20], [3, 4]]), len({m, Matrix([[1, 20], [3, 4]])}))
