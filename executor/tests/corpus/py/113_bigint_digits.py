def digit_sum(n):
    return sum(int(c) for c in str(n))

import math
print(digit_sum(2 ** 1000))
print(digit_sum(math.factorial(100)))
print(str(2 ** 64)[::-1])
n = 10 ** 50 + 151
print(n % 97, n.bit_length(), n.to_bytes(21, "big").hex())
print(sum(int(d) ** 5 for d in "4150"))
print(int("9" * 40) + 1 == 10 ** 40)
