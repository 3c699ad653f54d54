def process(items):
    try:
        for i in items:
            print("item", 10 // i)
    finally:
        print("cleanup runs")

process([5, 2, 0, 1])
