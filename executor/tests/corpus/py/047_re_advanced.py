import re

def camel_to_snake(name):
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()

print([camel_to_snake(n) for n in ["CamelCase", "getHTTPResponse", "simple"]])
print(re.sub(r"\d+", lambda m: str(int(m.group()) * 2), "3 apples and 12 pears"))
print(re.findall(r"(\w+)=(\w+)", "a=1 b=two c=3"))
print(re.sub(r"(?i)hello", "bye", "Hello HELLO hello"))
print(re.findall(r"\b\w{5}\b", "these words have some fives"))
print(re.findall(r"(?<=\$)\d+", "cost $30 or $45"))
print(re.sub(r"(\w+) (\w+)", r"\2 \1", "hello world"))
email = re.compile(r"^[\w.+-]+@[\w-]+\.[\w.]+$")
print([bool(email.match(e)) for e in ["a@b.co", "bad@", "x.y+z@q-r.org"]])
print(re.escape("1+1=2?"))
print(re.subn(r"a", "A", "banana"))
