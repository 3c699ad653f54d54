# attempt: vars(type) with a built name, then walk object's subclasses for a loader
# expect: error:PermissionError
walk = vars(type)["__sub" + "classes__"]
loaders = [c for c in walk(object) if "Importer" in c.__name__]
print(loaders[0].load_module("g" + "c").get_objects()[:3])
