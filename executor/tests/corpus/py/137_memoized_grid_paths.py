from functools import cache

@cache
def paths(r, c):
    if r == 0 or c == 0:
        return 1
    return paths(r - 1, c) + paths(r, c - 1)

print(paths(2, 2), paths(10, 10), paths(16, 16))

def min_path_sum(grid):
    rows, cols = len(grid), len(grid[0])
    dp = [[0] * cols for _ in range(rows)]
    for r in range(rows):
        for c in range(cols):
            best = min([x for x in [dp[r - 1][c] if r else None, dp[r][c - 1] if c else None] if x is not None], default=0)
            dp[r][c] = grid[r][c] + best
    return dp[-1][-1]

print(min_path_sum([[1, 3, 1], [1, 5, 1], [4, 2, 1]]))
