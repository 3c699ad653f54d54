from functools import total_ordering

@total_ordering
class Card:
    RANKS = "23456789TJQKA"
    def __init__(self, text):
        self.rank, self.suit = text[0], text[1]
    def __eq__(self, other):
        return self.RANKS.index(self.rank) == self.RANKS.index(other.rank)
    def __lt__(self, other):
        return self.RANKS.index(self.rank) < self.RANKS.index(other.rank)
    def __repr__(self):
        return self.rank + self.suit

hand = [Card(t) for t in ["Kh", "2c", "Ts", "As", "5d"]]
print(sorted(hand), max(hand), min(hand))
print(Card("Kh") == Card("Kd"), Card("2c") <= Card("3c"), Card("Ah") > Card("Kh"))
