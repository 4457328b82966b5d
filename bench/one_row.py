"""A 1-row job on a cold call (issue 16): the first ``rowpool.apply`` in a fresh process.

    python bench/one_row.py [--runs 11]

Each run is a fresh interpreter that imports pandas and rowpool, builds a 1-row frame and times
its first ``rowpool.apply(df, f)`` (no pool, defaults: the row runs in the calling process, no
worker starts) and the second one. Printed: the median and the range over the runs, and the
import time of rowpool (not part of the call).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import json, time
import numpy as np, pandas as pd
df = pd.DataFrame({"v": np.arange(1, dtype=np.float64)})
t0 = time.perf_counter()
import rowpool
t1 = time.perf_counter()
first = rowpool.apply(df, lambda row: row["v"] + 1.0)
t2 = time.perf_counter()
second = rowpool.apply(df, lambda row: row["v"] + 1.0)
t3 = time.perf_counter()
assert first.equals(df.apply(lambda row: row["v"] + 1.0, axis=1))
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "second": t3 - t2}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    runs = [
        json.loads(
            subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True).stdout
        )
        for _ in range(args.runs)
    ]
    for key in ("first", "second", "import"):
        values = [1e3 * run[key] for run in runs]
        print(
            f"{key:>6}: median {statistics.median(values):.2f} ms "
            f"(min {min(values):.2f}, max {max(values):.2f}; {args.runs} fresh processes)"
        )


if __name__ == "__main__":
    main()
