scores = {"a": 1, "b": 2, "c": 3}
for key in scores:
    if scores[key] == 2:
        scores["d"] = 4
print(scores)
