words = ["naïve", "café", "Straße", "日本語", "emoji😀"]
for w in words:
    print(w, len(w), w.upper(), w[::-1], w.encode("utf-8").__len__())
print("ß".upper(), "İ".lower().encode("utf-8"), "ǅ".istitle())
print(sorted(["b", "A", "a", "B", "é"]))
print("straße".casefold() == "STRASSE".casefold())
print(" ".join(f"U+{ord(c):04X}" for c in "aé€"))
