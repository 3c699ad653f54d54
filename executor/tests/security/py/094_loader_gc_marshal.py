# attempt: a module's loader imports gc / marshal behind the import guard
# expect: error:AttributeError
import math
loader = vars(math)["__load" + "er__"]
for name in ["g" + "c", "mar" + "shal"]:
    spec = loader.find_spec(name)
    assert spec is None, name
    module = loader.create_module(spec)
    print(module.get_objects())
