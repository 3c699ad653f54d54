import json

SCHEMA = {"name": str, "age": int, "email": str, "tags": list}

def validate(doc):
    errors = []
    for field, typ in SCHEMA.items():
        if field not in doc:
            errors.append(f"missing {field}")
        elif not isinstance(doc[field], typ):
            errors.append(f"{field}: expected {typ.__name__}, got {type(doc[field]).__name__}")
    for extra in sorted(set(doc) - set(SCHEMA)):
        errors.append(f"unexpected {extra}")
    return errors

docs = [
    '{"name": "a", "age": 3, "email": "x@y", "tags": []}',
    '{"name": "b", "age": "3", "tags": {}}',
    '{"name": "c", "age": 1, "email": "e", "tags": [], "admin": true}',
]
for d in docs:
    print(validate(json.loads(d)) or "valid")
