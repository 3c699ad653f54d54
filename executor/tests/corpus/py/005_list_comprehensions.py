matrix = [[i * 3 + j for j in range(3)] for i in range(4)]
print(matrix)
transposed = [[row[i] for row in matrix] for i in range(3)]
print(transposed)
flat = [x for row in matrix for x in row if x % 2 == 0]
print(flat)
squares = {x: x * x for x in range(6)}
print(squares)
evens = sorted({x % 4 for x in range(20)})
print(evens)
gen_sum = sum(x for x in range(101))
print(gen_sum)
