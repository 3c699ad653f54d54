import bisect

class Leaderboard:
    def __init__(self):
        self.scores = []
    def add(self, score):
        bisect.insort(self.scores, score)
    def rank(self, score):
        return len(self.scores) - bisect.bisect_right(self.scores, score) + 1
    def between(self, lo, hi):
        return self.scores[bisect.bisect_left(self.scores, lo):bisect.bisect_right(self.scores, hi)]

lb = Leaderboard()
for s in [50, 80, 80, 65, 90, 30]:
    lb.add(s)
print(lb.scores, lb.rank(80), lb.rank(90), lb.rank(10))
print(lb.between(60, 85))
