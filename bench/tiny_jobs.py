"""Tiny jobs on a cold call (issue 16): the seed scenario and a 1-row job, each the first call in a
fresh process, against serial pandas.

    python bench/tiny_jobs.py [--runs 7]

Each measurement is one fresh interpreter (pandas imported, the frame built, then timed):

- ``serial``: ``df.apply(seed_row, axis=1)`` on the seed frame (10,000 x 1,000 floats);
- ``chunks``: the same in 100-row chunks, ``chunk.apply(seed_row, axis=1)`` each, concatenated:
  what ``map_batches(chunk_rows=100)`` has to run at least, in any process;
- ``map_batches``: ``import rowpool`` + ``rowpool.map_batches(df, chunk.apply(seed_row),
  chunk_rows=100)`` (the bench's seed job);
- ``apply``: ``import rowpool`` + ``rowpool.apply(df, seed_row)``;
- ``one_row``: the first ``rowpool.apply`` of a 1-row frame (rowpool already imported), and
  ``import``: what ``import rowpool`` costs.

Rounds interleave the kinds; medians (and ranges) are printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import functools, json, sys, time
sys.path.insert(0, {root!r})
import pandas as pd
from bench.scenarios import apply_rows, float_frame, seed_row
kind = {kind!r}
if kind == "one_row":
    import numpy as np
    df = pd.DataFrame({{"v": np.arange(1, dtype=np.float64)}})
    t0 = time.perf_counter()
    import rowpool
    t1 = time.perf_counter()
    rowpool.apply(df, lambda row: row["v"] + 1.0)
    t2 = time.perf_counter()
    print(json.dumps({{"import": t1 - t0, "one_row": t2 - t1}}))
    raise SystemExit
df = float_frame(10_000, 1000)
t0 = time.perf_counter()
if kind == "serial":
    df.apply(seed_row, axis=1)
elif kind == "chunks":
    pd.concat([df.iloc[i : i + 100].apply(seed_row, axis=1) for i in range(0, len(df), 100)])
else:
    import rowpool
    if kind == "map_batches":
        rowpool.map_batches(df, functools.partial(apply_rows, row_fn=seed_row), chunk_rows=100)
    else:
        rowpool.apply(df, seed_row)
print(json.dumps({{kind: time.perf_counter() - t0}}))
"""

KINDS = ("serial", "chunks", "map_batches", "apply", "one_row")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {}
    for _ in range(args.runs):
        for kind in KINDS:
            code = CHILD.format(root=str(ROOT), kind=kind)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            for key, value in json.loads(out.stdout).items():
                seconds.setdefault(key, []).append(value)
    serial = statistics.median(seconds["serial"])
    for key, values in seconds.items():
        median = statistics.median(values)
        print(
            f"{key:>12}: median {1e3 * median:8.2f} ms ({median / serial:.2f}x serial; "
            f"min {1e3 * min(values):.2f}, max {1e3 * max(values):.2f}; {len(values)} fresh processes)"
        )


if __name__ == "__main__":
    main()
