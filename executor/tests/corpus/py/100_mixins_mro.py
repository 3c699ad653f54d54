class JsonMixin:
    def to_json(self):
        import json
        return json.dumps(self.__dict__, sort_keys=True)

class ReprMixin:
    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({fields})"

class Base:
    def hello(self):
        return "base"

class Left(Base):
    def hello(self):
        return "left>" + super().hello()

class Right(Base):
    def hello(self):
        return "right>" + super().hello()

class Child(Left, Right):
    def hello(self):
        return "child>" + super().hello()

class User(JsonMixin, ReprMixin):
    def __init__(self, name, age):
        self.name, self.age = name, age

print(Child().hello())
print([c.__name__ for c in Child.__mro__])
u = User("kim", 40)
print(u, u.to_json())
