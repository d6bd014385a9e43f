"""A small job program for launcher tests: `python -m tests.jobs.scripted MODE [ARG]`.

Modes: exit N (say so on stderr, exit N); sleep S (then exit 0); stubborn S (ignore
SIGTERM, say so, sleep S); family S (start a grandchild that sleeps S, then sleep S);
env (print the job environment as JSON, exit 0); allenv (print the whole process
environment as JSON, exit 0); timed PATH:S[:TYPE] (append "start JOB_NAME TIME" to
PATH, sleep S, append "end JOB_NAME TIME"; exit 1 instead when JOB_TYPE is TYPE).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

IGNORING_SIGTERM = "scripted job ignores SIGTERM from now on"
JOB_KEYS = (
    "QUEUE_ID",
    "TARGET",
    "JOB_TYPE",
    "JOB_NAME",
    "SYMBOL",
    "SYMBOLS",
    "TIME_RANGE",
    "KAFKA_TOPIC",
    "REQUEST_JSON",
    "EXCHANGE",
    "QUEUE_CONTROL_TOPIC",
    "COLLECTION",
)


def timed(arg: str) -> int:
    """Write when this job ran (tests measure order and concurrency from the jobs)."""
    path, seconds, failing = [*arg.split(":"), ""][:3]
    name = os.environ.get("JOB_NAME", "?")
    with open(path, "a") as log:
        log.write(f"start {name} {time.time()}\n")
    time.sleep(float(seconds))
    if failing and os.environ.get("JOB_TYPE") == failing:
        print(f"failing on purpose as {failing}", file=sys.stderr, flush=True)
        return 1
    with open(path, "a") as log:
        log.write(f"end {name} {time.time()}\n")
    return 0


def main(mode: str, arg: str = "0") -> int:
    print(f"scripted job {mode} {arg} pid={os.getpid()}", flush=True)
    if mode == "timed":
        return timed(arg)
    if mode == "exit":
        print(f"failing on purpose with code {arg}", file=sys.stderr, flush=True)
        return int(arg)
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print(IGNORING_SIGTERM, flush=True)
    if mode == "family":
        child = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({arg})"])
        print(f"grandchild pid={child.pid}", flush=True)
    if mode == "env":
        print(json.dumps({key: os.environ.get(key) for key in JOB_KEYS}), flush=True)
        return 0
    if mode == "allenv":
        print(json.dumps(dict(os.environ)), flush=True)
        return 0
    time.sleep(float(arg))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
