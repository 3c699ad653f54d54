class Countdown:
    def __init__(self, start):
        self.current = start
    def __iter__(self):
        return self
    def __next__(self):
        if self.current <= 0:
            raise StopIteration
        self.current -= 1
        return self.current + 1

class Range2D:
    def __init__(self, w, h):
        self.w, self.h = w, h
    def __iter__(self):
        for y in range(self.h):
            for x in range(self.w):
                yield (x, y)

print(list(Countdown(5)))
print(list(Range2D(3, 2)))
it = iter([10, 20, 30])
print(next(it), next(it), next(it), next(it, "default"))
print(sum(Countdown(100)))
