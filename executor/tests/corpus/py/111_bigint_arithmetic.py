a = 2 ** 521 - 1
b = 3 ** 200
print(a % 1000000007, b % 999983)
print(len(str(a * b)), str(a * b)[:20])
print(a // b, a % b == a - (a // b) * b)
print(-a // 7 == -(a // 7) - 1, (-a) % 7)
print(a.bit_length(), (a >> 500), (a & 0xFFFF), a ^ (a >> 1) > 0)
print(pow(2, 10 ** 5, 10 ** 9 + 7), pow(3, -1, 11))
print(int(str(b)) == b, hex(2 ** 100), abs(-b) == b)
fib = [0, 1]
while len(fib) < 301:
    fib.append(fib[-1] + fib[-2])
print(fib[300])
