ROOMS = {
    "hall": {"north": "kitchen", "east": "study"},
    "kitchen": {"south": "hall"},
    "study": {"west": "hall", "up": "attic"},
    "attic": {"down": "study"},
}

def play(commands):
    room = "hall"
    log = []
    for cmd in commands:
        verb, _, arg = cmd.partition(" ")
        if verb == "go":
            if arg in ROOMS[room]:
                room = ROOMS[room][arg]
                log.append(f"you enter the {room}")
            else:
                log.append(f"you can't go {arg}")
        elif verb == "look":
            log.append(f"{room}: exits {', '.join(sorted(ROOMS[room]))}")
        else:
            log.append(f"unknown command {cmd!r}")
    return log

for line in play(["look", "go east", "go up", "go west", "dance", "go down", "look"]):
    print(line)
