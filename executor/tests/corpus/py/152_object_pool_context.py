class Pool:
    def __init__(self, size):
        self.free = list(range(size))
        self.log = []
    def acquire(self):
        pool = self
        class Lease:
            def __enter__(self):
                self.conn = pool.free.pop(0)
                pool.log.append(f"acquire {self.conn}")
                return self.conn
            def __exit__(self, *exc):
                pool.free.append(self.conn)
                pool.log.append(f"release {self.conn}")
                return False
        return Lease()

p = Pool(2)
with p.acquire() as a:
    with p.acquire() as b:
        print("using", a, b, "free", p.free)
try:
    with p.acquire() as c:
        raise RuntimeError("query failed")
except RuntimeError as e:
    print("error", e)
print(p.log, p.free)
