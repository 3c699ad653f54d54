# attempt: an endless comprehension inside eval of a string assembled at run time
# expect: timeout | step_limit
endless = "[x for x in " + "iter(int, 1)]"
print(len(eval(endless)))
