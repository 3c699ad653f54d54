# attempt: hide `import os` behind a rot13 codec and exec it
# expect: outside_subset:PY_IMPORT_DENIED | outside_subset:PY_DYNAMIC_EVAL
import codecs
exec(codecs.decode("vzcbeg bf; bf.flfgrz('gbhpu {{CANARY}}')", "rot13"))
