from abc import ABC, abstractmethod

class Animal(ABC):
    def __init__(self, name):
        self.name = name
    @abstractmethod
    def sound(self):
        ...
    def speak(self):
        return f"{self.name} says {self.sound()}"

class Dog(Animal):
    def sound(self):
        return "woof"

class Cat(Animal):
    def sound(self):
        return "meow"

for a in [Dog("rex"), Cat("tom")]:
    print(a.speak())
try:
    Animal("x")
except TypeError:
    print("cannot instantiate abstract class")
