"""Benchmark scenarios: the input table, the row function and how the "classic" peers chunk it.

Everything here runs inside the measured process (``bench/child.py``) under pandas 2 or 3, so it
needs only numpy and pandas. Row functions live at module level so that every engine can ship them
to its workers (by reference: the runner puts the repository root on ``PYTHONPATH``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Pure-Python loop iterations per millisecond of CPU on the reference machine (AMD EPYC, 2 cores,
# CPython 3.11): calibrated once and fixed so every engine does exactly the same work. The measured
# serial time per row is what BENCHMARKS.md reports.
SPIN_PER_MS = 29_000


def spin(iterations: int) -> int:
    """Burn CPU in pure Python (holds the GIL, cannot be vectorized); deterministic result."""
    total = 0
    for i in range(iterations):
        total += i % 7
    return total


# ----------------------------------------------------------------------------- row functions
def seed_row(row):
    """Seed: a cheap row function reading three of the 1,000 float fields."""
    return row["c0"] + row["c500"] * 2.0 - row["c999"]


_BIGMEM_FIELDS = tuple(f"c{i}" for i in range(0, 1000, 100))


def bigmem_row(row):
    """Bigmem: read 10 fields spread over the 1,000 columns."""
    total = 0.0
    for name in _BIGMEM_FIELDS:
        total += row[name]
    return total


def overhead_row(row):
    """Overhead: trivial, but the branch on a string keeps ``df.apply`` from being vectorized."""
    return row["a"] * 2 + row["i"] if row["s"] != "x" else 0.0


def spin_row(row):
    """Heavy and skew: ``row["n"]`` loop iterations of CPU work plus a value from the row."""
    return spin(int(row["n"])) + row["v"]


def spin_group(group):
    """Skewgroups: ``group["n"].sum()`` loop iterations (the group's rows' costs) plus a value."""
    return spin(int(group["n"].sum())) + group["v"].sum()


def wide_row(row):
    """Wide: ``iloc`` is no field access, so the row must be pandas' genuine row Series."""
    return row.iloc[0]


def start_row(row):
    """Start: the smallest job there is."""
    return row["v"] + 1.0


def apply_rows(chunk: pd.DataFrame, row_fn: Callable) -> pd.Series:
    """The chunk function of every chunk-based peer: ``chunk.apply(row_fn, axis=1)``."""
    return chunk.apply(row_fn, axis=1)


# ----------------------------------------------------------------------------- chunking
def drop_inplace_chunks(df: pd.DataFrame, rows: int) -> Iterator[pd.DataFrame]:
    """The Stack Overflow seed's generator: yield the head, then drop it from ``df`` in place.

    ("Pandas and multiprocessing memory management: splitting a DataFrame into multiple chunks".)
    Forked workers then share the frame copy-on-write while the parent keeps rewriting it.
    """
    while len(df):
        yield df.iloc[:rows].copy()
        df.drop(df.index[:rows], inplace=True)


def slice_chunks(df: pd.DataFrame, rows: int) -> Iterator[pd.DataFrame]:
    """Plain positional slices of ``rows`` rows (what ``np.array_split`` code does)."""
    for start in range(0, len(df), rows):
        yield df.iloc[start : start + rows]


@dataclass(frozen=True)
class Job:
    """What an engine is asked to compute: ``df.apply(row_fn, axis=1)``, and how peers chunk it.

    ``chunk_rows`` fixes the chunk length for chunk-based peers (None: ``CHUNKS_PER_WORKER`` chunks
    per worker, the classic split). ``batches`` makes rowpool run ``map_batches`` over
    ``chunk_rows``-row chunks instead of ``apply``. ``drop_inplace`` selects the seed's generator.
    ``max_memory``: the input is a Parquet file, which rowpool streams within this budget into an
    output file; the other engines read it with ``pandas.read_parquet`` first (see child.py).
    ``group_by``: the job is ``df.groupby(group_by).apply(row_fn, include_groups=False)``, which only
    the engines with ``groups=True`` run.
    """

    row_fn: Callable
    group_by: str | None = None  # set: ``df.groupby(group_by).apply(row_fn)`` instead (a group function)
    chunk_rows: int | None = None
    drop_inplace: bool = False
    batches: bool = False
    result_dtype: str = "float64"
    max_memory: int | None = None  # file scenarios: rowpool's memory budget (bytes)

    def chunk_length(self, n_rows: int, workers: int) -> int:
        """Rows per chunk for chunk-based peers."""
        if self.chunk_rows:
            return self.chunk_rows
        return max(1, math.ceil(n_rows / (CHUNKS_PER_WORKER * max(1, workers))))

    def chunks(self, df: pd.DataFrame, workers: int) -> Iterator[pd.DataFrame]:
        """The chunks a classic peer feeds to its pool, in order."""
        rows = self.chunk_length(len(df), workers)
        return drop_inplace_chunks(df, rows) if self.drop_inplace else slice_chunks(df, rows)


CHUNKS_PER_WORKER = 4


# ----------------------------------------------------------------------------- input tables
def float_frame(n_rows: int, n_cols: int) -> pd.DataFrame:
    """``n_rows`` x ``n_cols`` float64 frame with columns c0..c{n-1}, built in one pass over memory.

    (Random numbers would cost ~15 s per 4 GB on this machine, per run; the values only need to be
    distinct and deterministic.)
    """
    data = np.empty((n_rows, n_cols), dtype=np.float64)
    np.add(
        np.arange(n_rows, dtype=np.float64)[:, None] * 1e-3,
        np.arange(n_cols, dtype=np.float64)[None, :],
        out=data,
    )
    columns = [f"c{i}" for i in range(n_cols)]
    return pd.DataFrame(data, columns=columns, copy=False)


def mixed_frame(n_rows: int) -> pd.DataFrame:
    """8 mixed columns: 3 float, 2 int, a string, a datetime and a bool."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.random(n_rows),
            "b": rng.random(n_rows),
            "c": rng.random(n_rows),
            "i": rng.integers(0, 1000, n_rows),
            "j": rng.integers(0, 1000, n_rows),
            "s": rng.choice(np.array(["x", "y", "z"], dtype=object), n_rows),
            "t": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 10**8, n_rows), "s"),
            "flag": rng.random(n_rows) > 0.5,
        }
    )


def dtypes_frame(n_rows: int) -> pd.DataFrame:
    """Issue 18.3's frame: the overhead columns ``a``, ``i``, ``s`` as nullable Float64, Arrow int64
    and categorical (no missing values: the row reads plain values), plus one column of each other
    common dtype that is not plain numpy: tz-aware datetime, timedelta, nullable Int32 / UInt16 /
    boolean (with missing values), Arrow double and bool (with nulls)."""
    rng = np.random.default_rng(0)
    missing = rng.random(n_rows) < 0.1
    ints = rng.integers(0, 1000, n_rows)
    return pd.DataFrame(
        {
            "a": pd.array(rng.random(n_rows), dtype="Float64"),
            "i": pd.array(ints, dtype="int64[pyarrow]"),
            "s": pd.Categorical.from_codes(ints % 3, categories=["x", "y", "z"]),
            "t": pd.date_range("2020-01-01", periods=n_rows, freq="s", tz="Europe/Paris"),
            "d": pd.to_timedelta(ints, unit="s"),
            "n": pd.array(np.where(missing, None, ints), dtype="Int32"),
            "u": pd.array(ints.astype(np.uint16), dtype="UInt16"),
            "flag": pd.array(np.where(missing, None, ints % 2 == 0), dtype="boolean"),
            "f": pd.array(np.where(missing, None, rng.random(n_rows)), dtype="double[pyarrow]"),
            "b": pd.array(np.where(missing, None, ints % 5 == 0), dtype="bool[pyarrow]"),
        }
    )


def parquet_file(n_rows: int, n_cols: int) -> str:
    """``float_frame(n_rows, n_cols)`` as a Parquet file in the temporary directory, written once
    (20,000-row row groups, never the whole frame in memory) and reused by later runs."""
    import os
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    path = os.path.join(tempfile.gettempdir(), f"rowpool-bench-{n_rows}x{n_cols}.parquet")
    if os.path.exists(path):
        return path
    writer = None
    for start in range(0, n_rows, OUTOFCORE_ROW_GROUP):
        part = float_frame(min(OUTOFCORE_ROW_GROUP, n_rows - start), n_cols) + start * 1e-3
        table = pa.Table.from_pandas(part, preserve_index=False)
        writer = writer or pq.ParquetWriter(path + ".tmp", table.schema)
        writer.write_table(table)
    writer.close()
    os.replace(path + ".tmp", path)
    return path


OUTOFCORE_ROW_GROUP = 20_000
OUTOFCORE_BUDGET = 512 << 20  # the file holds 128,000 x 1,000 float64: 1 GiB, twice the budget


def wide_frame(n_rows: int) -> pd.DataFrame:
    """Issue 17.1's frame: 5,000 normal float columns and a str column ``s`` (object rows)."""
    df = pd.DataFrame(np.random.default_rng(0).normal(size=(n_rows, 5000)))
    df["s"] = "x"
    return df


def cost_frame(costs_ms: np.ndarray) -> pd.DataFrame:
    """Rows costing ``costs_ms`` milliseconds each of pure-Python CPU (column ``n``), plus ``v``."""
    n_rows = len(costs_ms)
    return pd.DataFrame(
        {
            "n": np.rint(np.asarray(costs_ms, dtype=np.float64) * SPIN_PER_MS).astype(np.int64),
            "v": np.arange(n_rows, dtype=np.float64) * 0.5,
        }
    )


def skew_costs(n_rows: int, slow_fraction: float = 0.02) -> np.ndarray:
    """Most rows 1 ms; the last ``slow_fraction`` of the rows 100 ms (clustered at the end)."""
    costs = np.full(n_rows, 1.0)
    slow = max(1, round(n_rows * slow_fraction))
    costs[n_rows - slow :] = 100.0
    return costs


def skewgroups_frame(n_rows: int, big_fraction: float = 0.3) -> pd.DataFrame:
    """Rows of ~1 ms each in groups ``g``: one group of ``big_fraction`` of the rows, the rest in
    groups of 1 to 23 rows (12 on average); rows of all groups interleaved at random."""
    rng = np.random.default_rng(0)
    big = round(n_rows * big_fraction)
    sizes = [big]
    while sum(sizes) < n_rows:
        sizes.append(min(int(rng.integers(1, 24)), n_rows - sum(sizes)))
    frame = cost_frame(np.full(n_rows, 1.0))
    frame["g"] = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    return frame


# ----------------------------------------------------------------------------- scenarios
@dataclass(frozen=True)
class Scenario:
    """A benchmark scenario: ``make(rows)`` builds the input; the job says what to compute."""

    name: str
    summary: str
    make: Callable[[int], pd.DataFrame]
    job: Job
    rows: int  # full size
    smoke_rows: int
    timeout_s: float  # per run, full size
    latency: bool = False  # "start": time warm one-row calls instead of one cold run
    # How often the runner samples the process tree. The CPU-bound scenarios sample less often:
    # each sample costs ~1 ms of kernel time per process, taken from the cores being measured.
    sample_interval_s: float = 0.05
    enabled: bool = True
    engines: tuple[str, ...] | None = None  # only these engines (and serial); None: every engine

    def n_rows(self, smoke: bool) -> int:
        """Row count for the chosen size."""
        return self.smoke_rows if smoke else self.rows


# Start: a warm pool, one-row jobs; median of START_CALLS calls after one warm-up call.
START_CALLS = 20

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="seed",
            summary="the Stack Overflow case: 1,000 float columns, 100-row chunks, "
            "in-place-drop chunk generator; rowpool runs map_batches(chunk_rows=100)",
            make=lambda n: float_frame(n, 1000),
            job=Job(seed_row, chunk_rows=100, drop_inplace=True, batches=True),
            rows=10_000,
            smoke_rows=1_000,
            timeout_s=300,
        ),
        Scenario(
            name="tiny",
            summary="the seed's frame and function as a row job: rowpool.apply(df, seed_row) on a "
            "cold call (a job too small to be worth starting workers)",
            make=lambda n: float_frame(n, 1000),
            job=Job(seed_row),
            rows=10_000,
            smoke_rows=1_000,
            timeout_s=300,
        ),
        Scenario(
            name="bigmem",
            summary="1,000 float columns (~4 GB at full size), row function reads 10 fields",
            make=lambda n: float_frame(n, 1000),
            job=Job(bigmem_row),
            rows=500_000,
            smoke_rows=2_000,
            timeout_s=600,
        ),
        Scenario(
            name="overhead",
            summary="8 mixed columns (float, int, str, datetime, bool), "
            'lambda r: r["a"] * 2 + r["i"] if r["s"] != "x" else 0.0',
            make=mixed_frame,
            job=Job(overhead_row),
            rows=1_000_000,
            smoke_rows=5_000,
            timeout_s=600,
        ),
        Scenario(
            name="dtypes",
            summary="the overhead function over 10 columns of non-numpy dtypes: categorical, "
            "tz-aware datetime, timedelta, nullable Float64/Int32/UInt16/boolean, Arrow "
            "int64/double/bool (issue 18.3)",
            make=dtypes_frame,
            job=Job(overhead_row),
            rows=1_000_000,
            smoke_rows=5_000,
            timeout_s=600,
        ),
        Scenario(
            name="heavy",
            summary="every row ~20 ms of pure-Python CPU",
            make=lambda n: cost_frame(np.full(n, 20.0)),
            job=Job(spin_row),
            rows=1_000,
            smoke_rows=20,
            timeout_s=300,
            sample_interval_s=0.25,
        ),
        Scenario(
            name="skew",
            summary="98% of rows ~1 ms, the last 2% ~100 ms each",
            make=lambda n: cost_frame(skew_costs(n)),
            job=Job(spin_row),
            rows=4_000,
            smoke_rows=100,
            timeout_s=300,
            sample_interval_s=0.25,
        ),
        Scenario(
            name="skewgroups",
            summary="groupby-apply: one group of 30% of the rows, the rest in groups of 1-23 rows; "
            "a group costs ~1 ms per row",
            make=skewgroups_frame,
            job=Job(spin_group, group_by="g"),
            rows=12_000,
            smoke_rows=300,
            timeout_s=300,
            sample_interval_s=0.25,
        ),
        Scenario(
            name="wide",
            summary="5,000 float columns and a str column, lambda r: r.iloc[0] "
            "(every row a genuine pandas Series of 5,001 values)",
            make=wide_frame,
            job=Job(wide_row),
            rows=2_000,
            smoke_rows=50,
            timeout_s=600,
        ),
        Scenario(
            name="start",
            summary=f"warm pool, one-row job: time to result, median of {START_CALLS} calls",
            make=lambda n: pd.DataFrame({"v": np.arange(n, dtype=np.float64)}),
            job=Job(start_row),
            rows=1,
            smoke_rows=1,
            timeout_s=300,
            latency=True,
        ),
        Scenario(
            name="cluster",
            summary="the overhead workload on a Dask LocalCluster (workers x 1 thread, 4 partitions "
            "per worker): rowpool.apply(ddf, f) against dask's map_partitions(p.apply(f, axis=1))",
            make=mixed_frame,
            job=Job(overhead_row),
            rows=400_000,
            smoke_rows=2_000,
            timeout_s=600,
            engines=("rowpool-cluster", "dask-cluster", "rowpool-cluster-warm", "dask-cluster-warm"),
        ),
        Scenario(
            name="outofcore",
            summary="Parquet file of 1,000 float columns twice rowpool's 512 MiB budget; rowpool "
            "streams it into an output Parquet file, the others read it with pandas first",
            make=lambda n: parquet_file(n, 1000),
            job=Job(bigmem_row, max_memory=OUTOFCORE_BUDGET),
            rows=128_000,
            smoke_rows=2_000,
            timeout_s=900,
        ),
    )
}
