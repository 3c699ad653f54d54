from datetime import date, timedelta

def business_days(start, end):
    days = 0
    cur = start
    while cur <= end:
        if cur.weekday() < 5:
            days += 1
        cur += timedelta(days=1)
    return days

def next_weekday(d, weekday):
    ahead = (weekday - d.weekday()) % 7 or 7
    return d + timedelta(days=ahead)

start = date(2024, 5, 1)
print(business_days(start, date(2024, 5, 31)))
print(next_weekday(start, 0), next_weekday(start, 2))
meetings = [start + timedelta(weeks=i) for i in range(4)]
print([m.strftime("%b %d") for m in meetings])
age = date(2024, 6, 15).year - date(1990, 8, 20).year - ((6, 15) < (8, 20))
print(age)
