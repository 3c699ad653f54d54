from string import ascii_uppercase as AZ

def vigenere(text, key, decrypt=False):
    out, ki = [], 0
    for ch in text.upper():
        if ch in AZ:
            shift = AZ.index(key[ki % len(key)].upper())
            if decrypt:
                shift = -shift
            out.append(AZ[(AZ.index(ch) + shift) % 26])
            ki += 1
        else:
            out.append(ch)
    return "".join(out)

secret = vigenere("Attack at dawn!", "LEMON")
print(secret)
print(vigenere(secret, "LEMON", decrypt=True))
