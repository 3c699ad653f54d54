class Abort(Exception):
    """Raised to stop the batch."""

def run_batch(jobs):
    done = []
    for job in jobs:
        if job == "poison":
            raise Abort(f"aborted after {len(done)} jobs")
        done.append(job.upper())
        print("done", job)
    return done

run_batch(["a", "b", "poison", "c"])
