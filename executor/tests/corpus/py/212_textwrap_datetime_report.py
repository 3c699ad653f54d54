import textwrap
from datetime import date, timedelta

start = date(2024, 7, 1)
entries = [
    (start, "Kicked off the project and wrote the plan for the first sprint."),
    (start + timedelta(days=3), "Finished the parser; the tests for nested expressions pass."),
    (start + timedelta(days=10), "Shipped."),
]
for day, note in entries:
    head = f"{day:%a %d %b}: "
    print(textwrap.fill(note, width=44, initial_indent=head, subsequent_indent=" " * len(head)))
print((entries[-1][0] - entries[0][0]).days, "days")
