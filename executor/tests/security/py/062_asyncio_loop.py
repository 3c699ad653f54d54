# attempt: run an event loop that schedules itself forever
# expect: outside_subset:PY_ASYNC | outside_subset:PY_IMPORT_DENIED
import asyncio
async def forever():
    while True:
        await asyncio.sleep(0)
asyncio.run(forever())
