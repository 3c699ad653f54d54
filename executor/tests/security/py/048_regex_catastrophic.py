# attempt: catastrophic regex backtracking (2**40 steps inside the regex engine)
# expect: timeout | step_limit
import re
print(re.match(r"(a+)+$", "a" * 40 + "b"))
