data = list(range(10))
print(data[2:5], data[:3], data[7:], data[-3:])
print(data[::2], data[1::3], data[::-1], data[-2:2:-2])
s = "abcdefghij"
print(s[::-1], s[2:8:2], s[-4:])
data[2:5] = ["x", "y"]
print(data)
del data[::3]
print(data)
matrix = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
print([row[1:] for row in matrix[1:]])
t = (1, 2, 3, 4)
print(t[1:3], t[::-1])
print(s[100:], s[5:2])
