def matmul(a, b):
    return [[sum(x * y for x, y in zip(row, col)) for col in zip(*b)] for row in a]

def identity(n):
    return [[int(i == j) for j in range(n)] for i in range(n)]

def mat_pow(m, k):
    result = identity(len(m))
    while k:
        if k & 1:
            result = matmul(result, m)
        m = matmul(m, m)
        k >>= 1
    return result

a = [[1, 2], [3, 4]]
b = [[0, 1], [1, 0]]
print(matmul(a, b))
print(mat_pow([[1, 1], [1, 0]], 50)[0][1])
print(list(map(list, zip(*a))))
det = a[0][0] * a[1][1] - a[0][1] * a[1][0]
print(det)
