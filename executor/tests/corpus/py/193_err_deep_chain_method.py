class Node:
    def __init__(self, value, next=None):
        self.value = value
        self.next = next

chain = Node(1, Node(2, Node(3)))
node = chain
for _ in range(4):
    print(node.value)
    node = node.next
