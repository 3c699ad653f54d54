def read_numbers(lines):
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            yield int(line)

def squares(nums):
    for n in nums:
        yield n * n

def running_total(nums):
    total = 0
    for n in nums:
        total += n
        yield total

data = ["1", "# comment", "2", "", "3", "10"]
print(list(running_total(squares(read_numbers(data)))))
gen = squares(range(3))
print(next(gen), next(gen), next(gen))
try:
    next(gen)
except StopIteration:
    print("exhausted")
