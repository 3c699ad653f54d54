def spiral(m):
    out = []
    while m:
        out += m.pop(0)
        m = [list(r) for r in zip(*m)][::-1]
    return out

def rotate(m):
    return [list(r) for r in zip(*m[::-1])]

grid = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
print(spiral([row[:] for row in grid]))
for row in rotate(grid):
    print(row)
print(sum(map(sum, grid)), [max(col) for col in zip(*grid)])
