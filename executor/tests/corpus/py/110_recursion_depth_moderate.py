def sum_list(xs):
    if not xs:
        return 0
    return xs[0] + sum_list(xs[1:])

def count_down(n):
    return 0 if n == 0 else 1 + count_down(n - 1)

print(sum_list(list(range(300))))
print(count_down(500))

def gcd(a, b):
    return a if b == 0 else gcd(b, a % b)

print(gcd(2 ** 64, 6 ** 20), gcd(1071, 462))
