class Node:
    __slots__ = ("key", "left", "right")
    def __init__(self, key):
        self.key = key
        self.left = self.right = None

class BST:
    def __init__(self):
        self.root = None
        self.size = 0
    def insert(self, key):
        if self.root is None:
            self.root = Node(key)
        else:
            cur = self.root
            while True:
                if key < cur.key:
                    if cur.left is None:
                        cur.left = Node(key)
                        break
                    cur = cur.left
                elif key > cur.key:
                    if cur.right is None:
                        cur.right = Node(key)
                        break
                    cur = cur.right
                else:
                    return
        self.size += 1
    def inorder(self):
        def walk(n):
            if n:
                yield from walk(n.left)
                yield n.key
                yield from walk(n.right)
        return list(walk(self.root))
    def height(self, n="root"):
        n = self.root if n == "root" else n
        return 0 if n is None else 1 + max(self.height(n.left), self.height(n.right))
    def __contains__(self, key):
        cur = self.root
        while cur:
            if key == cur.key:
                return True
            cur = cur.left if key < cur.key else cur.right
        return False

t = BST()
for k in [50, 30, 70, 20, 40, 60, 80, 30, 65]:
    t.insert(k)
print(t.inorder(), t.size, t.height())
print(65 in t, 66 in t)
