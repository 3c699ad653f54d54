import functools

def log_calls(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        print(f"calling {func.__name__} with {args} {kwargs}")
        result = func(*args, **kwargs)
        print(f"{func.__name__} returned {result}")
        return result
    return wrapper

def repeat(times):
    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args):
            return [func(*args) for _ in range(times)]
        return wrapper
    return decorator

@log_calls
def add(a, b=0):
    """Adds two numbers."""
    return a + b

@repeat(3)
def greet(name):
    return f"hi {name}"

add(2, b=3)
print(add.__name__, add.__doc__)
print(greet("bob"))
