def render_tree(tree, prefix=""):
    lines = []
    items = list(tree.items())
    for i, (name, children) in enumerate(items):
        last = i == len(items) - 1
        lines.append(prefix + ("└── " if last else "├── ") + name)
        lines.extend(render_tree(children, prefix + ("    " if last else "│   ")))
    return lines

fs = {"src": {"main.py": {}, "util": {"io.py": {}, "fmt.py": {}}}, "README.md": {}, "tests": {"test_main.py": {}}}
print("\n".join(render_tree(fs)))
