import json

lines = [
    '{"event": "login", "user": "ann", "ts": 1}',
    '{"event": "click", "user": "ann", "ts": 2, "target": "buy"}',
    '{"event": "login", "user": "bob", "ts": 3}',
    '{"event": "logout", "user": "ann", "ts": 9}',
]
events = [json.loads(l) for l in lines]
sessions = {}
for e in events:
    s = sessions.setdefault(e["user"], {"events": 0, "first": e["ts"], "last": e["ts"]})
    s["events"] += 1
    s["last"] = e["ts"]
print(json.dumps(sessions, sort_keys=True))
print(json.dumps([e["event"] for e in events]))
print(json.dumps({"nested": {"list": [1, 2, {"k": None}]}}, indent=1))
