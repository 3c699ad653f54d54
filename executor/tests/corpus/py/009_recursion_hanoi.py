def hanoi(n, src, dst, via, moves):
    if n == 0:
        return
    hanoi(n - 1, src, via, dst, moves)
    moves.append((src, dst))
    hanoi(n - 1, via, dst, src, moves)

moves = []
hanoi(4, "A", "C", "B", moves)
print(len(moves))
print(moves[:5])

def permutations(items):
    if len(items) <= 1:
        return [items]
    result = []
    for i, x in enumerate(items):
        for rest in permutations(items[:i] + items[i + 1:]):
            result.append([x] + rest)
    return result

print(permutations([1, 2, 3]))
