class Dataset:
    def __init__(self, values):
        self.values = values
        self._stats = None
        self.computations = 0
    @property
    def stats(self):
        if self._stats is None:
            self.computations += 1
            n = len(self.values)
            mean = sum(self.values) / n
            var = sum((v - mean) ** 2 for v in self.values) / n
            self._stats = {"n": n, "mean": mean, "var": var}
        return self._stats

d = Dataset([2, 4, 4, 4, 5, 5, 7, 9])
print(d.stats, d.stats["var"] ** 0.5)
print(d.computations)
