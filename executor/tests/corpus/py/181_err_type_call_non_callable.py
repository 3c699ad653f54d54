handlers = {"start": lambda: "started", "stop": "stopped"}
for name in ["start", "stop"]:
    print(handlers[name]())
