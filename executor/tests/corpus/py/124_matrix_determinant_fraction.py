from fractions import Fraction

def determinant(m):
    m = [[Fraction(x) for x in row] for row in m]
    n, det = len(m), Fraction(1)
    for i in range(n):
        pivot = next((r for r in range(i, n) if m[r][i] != 0), None)
        if pivot is None:
            return Fraction(0)
        if pivot != i:
            m[i], m[pivot] = m[pivot], m[i]
            det = -det
        det *= m[i][i]
        for r in range(i + 1, n):
            f = m[r][i] / m[i][i]
            m[r] = [a - f * b for a, b in zip(m[r], m[i])]
    return det

print(determinant([[2, 0, 1], [1, 3, 2], [1, 1, 1]]))
print(determinant([[1, 2], [2, 4]]))
print(determinant([[0, 1], [1, 0]]), determinant([[Fraction(1, 2), 1], [1, 3]]))
