"""Shared by the end-to-end tests: check() counts and reports, finish()
prints the counts and exits non-zero if anything failed."""
import sys
import threading

_lock = threading.Lock()
counts = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    with _lock:
        if cond:
            counts["passed"] += 1
        else:
            counts["failed"] += 1
            print(f"FAIL {name} {detail}", flush=True)


def finish():
    print(f"{counts['passed']} passed, {counts['failed']} failed")
    sys.exit(1 if counts["failed"] else 0)
