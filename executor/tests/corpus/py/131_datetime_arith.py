from datetime import datetime, timedelta, timezone

start = datetime(2024, 1, 31, 8, 0, tzinfo=timezone.utc)
shift = timedelta(hours=9, minutes=45)
print(start + shift, (start + shift).isoformat())
tz = timezone(timedelta(hours=5, minutes=30))
print(start.astimezone(tz).strftime("%Y-%m-%d %H:%M %z"))
stamps = ["2024-03-10T10:00:00", "2024-03-10T08:30:00", "2024-03-09T23:59:59"]
parsed = sorted(datetime.fromisoformat(s) for s in stamps)
print([p.strftime("%d %H:%M") for p in parsed])
gaps = [(b - a).total_seconds() / 60 for a, b in zip(parsed, parsed[1:])]
print(gaps)
print(datetime(2024, 12, 25).strftime("%j %U %a"), datetime(2000, 1, 1).timestamp() if False else "skip")
print(timedelta(days=1, seconds=-1), timedelta(weeks=2) // timedelta(days=3))
