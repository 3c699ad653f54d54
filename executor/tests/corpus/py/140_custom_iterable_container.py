class Playlist:
    def __init__(self, name, songs=()):
        self.name = name
        self._songs = list(songs)
    def __len__(self):
        return len(self._songs)
    def __getitem__(self, i):
        if isinstance(i, slice):
            return Playlist(self.name + "*", self._songs[i])
        return self._songs[i]
    def __iter__(self):
        return iter(self._songs)
    def __reversed__(self):
        return reversed(self._songs)
    def __add__(self, other):
        return Playlist(f"{self.name}+{other.name}", self._songs + other._songs)
    def __repr__(self):
        return f"Playlist({self.name!r}, {self._songs})"

a = Playlist("rock", ["s1", "s2", "s3"])
b = Playlist("jazz", ["j1"])
print(len(a), a[0], a[-1], a[1:])
print(list(reversed(a)), a + b)
print("s2" in a, [s.upper() for s in a])
