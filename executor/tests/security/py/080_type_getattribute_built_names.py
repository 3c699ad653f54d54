# attempt: type.__getattribute__(object, built name) reached through vars(type)
# expect: error:PermissionError
ga = vars(type)["__getattri" + "bute__"]
walk = ga(object, "__sub" + "classes__")
print(walk()[:3])
