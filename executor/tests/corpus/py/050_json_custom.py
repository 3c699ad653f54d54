import json
from dataclasses import dataclass, asdict

@dataclass
class User:
    name: str
    roles: list

class Encoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, User):
            return {"__user__": asdict(o)}
        if isinstance(o, set):
            return sorted(o)
        return super().default(o)

def decode(d):
    if "__user__" in d:
        return User(**d["__user__"])
    return d

payload = {"users": [User("ann", ["admin"]), User("bo", [])], "ids": {3, 1, 2}}
s = json.dumps(payload, cls=Encoder)
print(s)
back = json.loads(s, object_hook=decode)
print(back["users"][0], back["ids"])
try:
    json.loads("{bad json}")
except json.JSONDecodeError as e:
    print("decode error at pos", e.pos)
try:
    json.dumps(object())
except TypeError:
    print("not serializable")
