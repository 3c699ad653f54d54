class ValidationError(Exception):
    pass

class FieldMissing(ValidationError):
    pass

def validate(record):
    for field in ("id", "name"):
        if field not in record:
            raise FieldMissing(field)
    return True

records = [{"id": 1, "name": "a"}, {"id": 2}]
for r in records:
    try:
        print(validate(r))
    except TypeError:
        print("never")
