config = {"host": "localhost", "port": 8080}
print("connecting to", config["host"])
timeout = config["timeout"]
print(timeout)
