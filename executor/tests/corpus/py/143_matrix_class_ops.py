class Matrix:
    def __init__(self, data):
        self.data = data
        self.n, self.m = len(data), len(data[0])
    def __matmul__(self, other):
        return Matrix([[sum(self.data[i][k] * other.data[k][j] for k in range(self.m))
                        for j in range(other.m)] for i in range(self.n)])
    def __add__(self, other):
        return Matrix([[a + b for a, b in zip(r1, r2)] for r1, r2 in zip(self.data, other.data)])
    def T(self):
        return Matrix([list(c) for c in zip(*self.data)])
    def __repr__(self):
        return f"Matrix({self.data})"

A = Matrix([[1, 2, 3], [4, 5, 6]])
B = Matrix([[7, 8], [9, 10], [11, 12]])
print(A @ B)
print(A + A, A.T())
