class AppError(Exception):
    def __init__(self, message, code):
        super().__init__(message)
        self.code = code

class NotFound(AppError):
    pass

class Forbidden(AppError):
    pass

def fetch(resource):
    if resource == "secret":
        raise Forbidden("no access", 403)
    if resource != "home":
        raise NotFound(f"{resource} missing", 404)
    return "<html>"

for r in ["home", "secret", "about"]:
    try:
        print(fetch(r))
    except NotFound as e:
        print("404:", e, e.code)
    except AppError as e:
        print("app error:", type(e).__name__, e.code, e.args)
