"""``init=`` with a big read-only object: built once per worker, never pickled (issue 16).

    python bench/init_state.py [--mb 500] [--rows 20000] [--chunk-rows 500]

``init`` builds a ``--mb`` MB lookup table (a numpy array inside an object whose pickling raises,
so a single pickle of it anywhere fails the job) and appends its process id to a log; the job
runs every row in 2 workers, in ``rows / chunk_rows`` chunks. Printed: the chunks, how many
times each process built the table, the JOB payload (what every worker receives once per job)
with ``init=`` and with the table captured by the function instead, the workers' peak RSS, the
wall time, and that the result equals pandas' own ``df.apply``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time

import numpy as np
import pandas as pd
import psutil

import rowpool
from rowpool._pandas.source import FrameSource
from rowpool._spec import JobSpec, encode_spec

LOG = os.path.join(tempfile.gettempdir(), f"rowpool-init-bench-{os.getpid()}.log")
MB = 1 << 20


class LookupTable:
    """A big read-only table; pickling it raises, so it provably never travels."""

    def __init__(self, megabytes: int):
        self.values = np.arange(megabytes * MB // 8, dtype=np.float64)

    def __reduce__(self):
        raise TypeError("the lookup table was pickled")


def build_table(megabytes: int = 500) -> LookupTable:
    """``init``: builds the table and logs which process built it."""
    with open(LOG, "a") as log:
        log.write(f"{os.getpid()}\n")
    return LookupTable(megabytes)


def score(row, table: LookupTable) -> float:
    """The row function: a lookup in the table."""
    return table.values[int(row["i"]) * 997] * 2.0 + row["x"]


class PeakRss:
    """Samples the RSS of this process's children every 20 ms: the peak per child."""

    def __init__(self):
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        me = psutil.Process()
        while not self._stop.wait(0.02):
            for child in me.children(recursive=True):
                try:
                    rss = child.memory_info().rss
                except psutil.Error:
                    continue
                self.peaks[child.pid] = max(self.peaks.get(child.pid, 0), rss)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _closure_payload(megabytes: int, schema) -> int:
    """Bytes of the JOB payload when the function captures the array instead of using init=."""
    values = LookupTable(megabytes).values
    captured = lambda row: values[int(row["i"]) * 997] * 2.0 + row["x"]  # noqa: E731
    return len(encode_spec(JobSpec(func=captured, mode="rows", schema=schema), defer_imports=True))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--chunk-rows", type=int, default=500)
    args = parser.parse_args()
    df = pd.DataFrame({"i": np.arange(args.rows), "x": np.linspace(0.0, 1.0, args.rows)})
    init = lambda: build_table(args.mb)  # noqa: E731
    schema = FrameSource(df, for_rows=True).schema
    with_init = encode_spec(JobSpec(func=score, mode="rows", schema=schema, init=init), defer_imports=True)
    closure = _closure_payload(args.mb, schema)
    open(LOG, "w").close()
    with PeakRss() as rss:
        started = time.perf_counter()
        result = rowpool.apply(df, score, init=init, workers=2, chunk_rows=args.chunk_rows, in_process=False)
        wall = time.perf_counter() - started
    builds = pd.Series(open(LOG).read().split()).value_counts()
    os.unlink(LOG)
    expected = df.apply(score, axis=1, args=(LookupTable(args.mb),))
    chunks = -(-args.rows // args.chunk_rows)
    print(f"rows {args.rows:,} in {chunks} chunks of {args.chunk_rows} on 2 workers")
    in_parent = str(os.getpid()) in builds.index
    print(f"table builds per process: {sorted(builds.tolist())}; in the calling process: {in_parent}")
    print(
        f"JOB payload per worker: {len(with_init) / 1024:.1f} KiB with init=, "
        f"{closure / MB:,.0f} MiB with the table in the function's closure"
    )
    print(f"worker peak RSS: {sorted(round(v / MB) for v in rss.peaks.values())} MiB; wall {wall:.2f} s")
    print(f"result equals pandas' df.apply: {result.equals(expected)}")


if __name__ == "__main__":
    main()
