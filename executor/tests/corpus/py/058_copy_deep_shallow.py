import copy

original = {"a": [1, 2], "b": {"c": [3]}}
shallow = copy.copy(original)
deep = copy.deepcopy(original)
original["a"].append(99)
original["b"]["c"].append(4)
print(shallow)
print(deep)

class Node:
    def __init__(self, val, children=None):
        self.val = val
        self.children = children or []

tree = Node(1, [Node(2), Node(3, [Node(4)])])
clone = copy.deepcopy(tree)
clone.children[1].children[0].val = 40
print(tree.children[1].children[0].val, clone.children[1].children[0].val)
cyc = [1]
cyc.append(cyc)
cc = copy.deepcopy(cyc)
print(cc[1] is cc, cc[0])
