"""Per-task overhead of rowpool on Dask, from many small partitions (the numbers behind SCALING.md).

    python bench/cluster_overhead.py [--rows 100000] [--partitions 10000] [--workers 2]

On a LocalCluster (``--workers`` processes x 1 thread, loopback) it times, after a warm-up that
starts every worker's Pool:

- ``noop``: ``--partitions`` empty tasks through ``client.map``: the scheduler's own cost per task;
- the overhead workload (``bench/scenarios.overhead_row``) over ``--rows`` rows cut into FEW
  partitions and into ``--partitions`` partitions, with ``rowpool.apply(ddf, f, meta=...)`` and with
  dask's ``map_partitions(lambda p: p.apply(f, axis=1))``;

and prints each wall time, the per-task overhead in worker-seconds ((many - few) x workers /
(partitions - FEW)), and the bytes a task carries (its pickled function and options, and its
partition). Results go to stdout as JSON after the table.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FEW = 8


def noop(i: int) -> int:
    return i


def _timed(compute) -> float:
    started = time.perf_counter()
    compute()
    return time.perf_counter() - started


def _task_bytes(df, parts: int) -> dict:
    import cloudpickle
    import pandas as pd

    from bench.scenarios import overhead_row
    from rowpool.dask._collection import Known

    payload = cloudpickle.dumps((overhead_row, "rows", {}, Known(pd.Series([], dtype="float64"), None)))
    partition = cloudpickle.dumps(df.iloc[: max(1, len(df) // parts)])
    return {"task_payload": len(payload), "partition": len(partition)}


def measure(rows: int, partitions: int, workers: int) -> dict:
    import dask.dataframe as dd

    import rowpool
    from bench.engines import local_cluster
    from bench.scenarios import apply_rows, mixed_frame, overhead_row

    df = mixed_frame(rows)
    chunk = functools.partial(apply_rows, row_fn=overhead_row)
    meta = (None, "float64")
    ways = {
        "rowpool": lambda ddf: rowpool.apply(ddf, overhead_row, meta=meta),
        "dask": lambda ddf: ddf.map_partitions(chunk, meta=meta),
    }
    out = {"rows": rows, "partitions": partitions, "workers": workers, "few": FEW}
    with local_cluster(workers) as client:
        warm = dd.from_pandas(df.iloc[: 4 * workers], npartitions=2 * workers)
        for way in ways.values():
            client.compute(way(warm)).result()
        out["noop_s"] = _timed(lambda: client.gather(client.map(noop, range(partitions), pure=False)))
        for name, way in ways.items():
            for count in (FEW, partitions):
                ddf = dd.from_pandas(df, npartitions=count, sort=False)
                out[f"{name}_{count}_s"] = _timed(lambda way=way, ddf=ddf: client.compute(way(ddf)).result())
    span = partitions - FEW
    for name in ways:
        extra = out[f"{name}_{partitions}_s"] - out[f"{name}_{FEW}_s"]
        out[f"{name}_per_task_ms"] = 1000 * extra * workers / span
    out["noop_per_task_ms"] = 1000 * out["noop_s"] / partitions
    out.update(_task_bytes(df, partitions))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    out = measure(args.rows, args.partitions, args.workers)
    for key, value in out.items():
        print(f"{key:24s} {value:,.3f}" if isinstance(value, float) else f"{key:24s} {value:,}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
