import math

def polygon_area(points):
    n = len(points)
    s = 0
    for i in range(n):
        x1, y1 = points[i]
        x2, y2 = points[(i + 1) % n]
        s += x1 * y2 - x2 * y1
    return abs(s) / 2

def circle_through(r):
    return round(math.pi * r * r, 4), round(2 * math.pi * r, 4)

print(polygon_area([(0, 0), (4, 0), (4, 3), (0, 3)]))
print(polygon_area([(0, 0), (2, 0), (1, 2)]))
print(circle_through(2))
angle = math.atan2(1, 1)
print(round(math.degrees(angle), 6))
print([round(math.sqrt(x), 3) for x in range(1, 6)])
