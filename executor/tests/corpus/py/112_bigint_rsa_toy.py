def egcd(a, b):
    if b == 0:
        return a, 1, 0
    g, x, y = egcd(b, a % b)
    return g, y, x - (a // b) * y

p, q = 1000000007, 998244353
n = p * q
phi = (p - 1) * (q - 1)
e = 65537
g, x, _ = egcd(e, phi)
d = x % phi
print(g, d == pow(e, -1, phi))
message = 123456789012345
cipher = pow(message, e, n)
print(cipher)
print(pow(cipher, d, n) == message)
