class ConfigError(Exception):
    pass

def load_port(raw):
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"port must be a number, got {raw!r}") from exc

print(load_port("8080"))
print(load_port("eighty"))
