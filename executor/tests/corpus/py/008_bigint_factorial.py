def factorial(n):
    result = 1
    for i in range(2, n + 1):
        result *= i
    return result

f50 = factorial(50)
print(f50)
print(len(str(factorial(100))))
print(2 ** 200)
print((2 ** 127 - 1) % 1000007)
print(pow(3, 1000, 10 ** 9 + 7))
print(-(10 ** 30) // 7, -(10 ** 30) % 7)
print(int("123456789012345678901234567890") * 3)
print(divmod(10 ** 25, 12345))
