from functools import reduce

nums = [1, 2, 3, 4, 5, 6]
print(list(map(lambda x: x * x, nums)))
print(list(filter(lambda x: x % 2, nums)))
print(reduce(lambda acc, x: acc * x, nums, 1))
compose = lambda f, g: lambda x: f(g(x))
inc_then_double = compose(lambda x: x * 2, lambda x: x + 1)
print(inc_then_double(5))
print(sorted(nums, key=lambda x: (x % 3, -x)))
print(list(map(str.upper, ["a", "b"])))
print(list(zip(nums, map(lambda x: x ** 0.5 == int(x ** 0.5), nums))))
print(any(x > 5 for x in nums), all(x > 0 for x in nums))
