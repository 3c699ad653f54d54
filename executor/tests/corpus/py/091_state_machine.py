class TrafficLight:
    TRANSITIONS = {"green": ("yellow", 3), "yellow": ("red", 1), "red": ("green", 4)}
    def __init__(self):
        self.state = "red"
        self.elapsed = 0
    def tick(self):
        nxt, duration = self.TRANSITIONS[self.state]
        self.elapsed += 1
        if self.elapsed >= duration:
            self.state, self.elapsed = nxt, 0
        return self.state

light = TrafficLight()
print(" ".join(light.tick() for _ in range(12)))
