import json

config = {
    "name": "edge",
    "version": [1, 2, 3],
    "enabled": True,
    "ratio": 0.75,
    "owner": None,
    "nested": {"k": "v", "list": [{"a": 1}, {"b": 2}]},
}
text = json.dumps(config)
print(text)
print(json.dumps(config, indent=2, sort_keys=True))
back = json.loads(text)
print(back == config, back["nested"]["list"][1]["b"])
print(json.dumps([1, "two", 3.0, False]), json.dumps("é\n", ensure_ascii=True))
print(json.dumps({"b": 1, "a": 2}, separators=(",", ":"), sort_keys=True))
print(json.loads('{"x": [1, 2, {"y": null}], "z": 1e3}'))
