# attempt: consume an infinite generator
# expect: timeout | step_limit
import itertools
print(sum(itertools.count()))
