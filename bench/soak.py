"""The long soak of issue 17: ``python bench/soak.py [--jobs 1000] [--seed 17]``.

Runs tests/test_soak.py (random worker kills, row errors, poison rows and timeouts on one Pool,
every job checked: result, per-row call counts, fds, threads, processes) with ``--jobs`` jobs
instead of the suite's 40, and appends the count run, its outcome and its time to
bench/soak-runs.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECORD = os.path.join(ROOT, "bench", "soak-runs.md")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/soak.py")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=17)
    options = parser.parse_args(argv)
    env = dict(os.environ, ROWPOOL_SOAK_JOBS=str(options.jobs), ROWPOOL_SOAK_SEED=str(options.seed))
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "tests/test_soak.py"]
    started = time.monotonic()
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    sys.stdout.write(run.stdout[-3000:])
    sys.stderr.write(run.stderr[-3000:])
    summary = next((line for line in run.stdout.splitlines() if line.startswith("soak:")), "")
    outcome = "passed" if run.returncode == 0 else f"FAILED (exit {run.returncode})"
    if not os.path.exists(RECORD):
        with open(RECORD, "w") as record:
            record.write("## soak runs (bench/soak.py)\n\n| date | jobs | seed | outcome | time | kinds |\n")
            record.write("|---|--:|--:|---|--:|---|\n")
    with open(RECORD, "a") as record:
        kinds = summary.split(": ", 2)[-1] if summary else "-"
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
        row = (stamp, options.jobs, options.seed, outcome, f"{elapsed:.0f} s", kinds)
        record.write("| " + " | ".join(map(str, row)) + " |\n")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
