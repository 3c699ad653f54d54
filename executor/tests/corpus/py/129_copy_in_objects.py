import copy

class Board:
    def __init__(self):
        self.cells = [[" "] * 3 for _ in range(3)]
        self.moves = 0
    def play(self, r, c, mark):
        nb = copy.deepcopy(self)
        nb.cells[r][c] = mark
        nb.moves += 1
        return nb
    def __str__(self):
        return "\n".join("|".join(row) for row in self.cells)

b0 = Board()
b1 = b0.play(1, 1, "X")
b2 = b1.play(0, 2, "O")
print(b0.moves, b1.moves, b2.moves)
print(b2)
print(b0.cells[1][1] == " ")
bad = [[0] * 2] * 2
bad[0][0] = 1
good = [row[:] for row in copy.copy([[0] * 2] * 2)]
good[0][0] = 1
print(bad, good)
