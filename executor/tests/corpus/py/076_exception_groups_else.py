results = []
for value in ["10", "0", "abc", "5"]:
    try:
        n = int(value)
        r = 100 // n
    except (ValueError, ZeroDivisionError) as e:
        results.append(type(e).__name__)
    else:
        results.append(r)
    finally:
        results.append("|")
print(results)

def risky(level):
    if level > 2:
        raise OverflowError("too deep")
    return level

def nested():
    try:
        return risky(3)
    except OverflowError:
        return "recovered"
    finally:
        print("cleanup")

print(nested())
