"""What a chunk costs a worker before its rows run, and what the scheduler learns from it (issue 17.1:
a 5,001-column frame spent ~0.5 s per chunk building a DataFrame of it for the row Series, which the
scheduler took for per-row cost, so chunks shrank to 5-16 rows). The chunk's set-up must not grow
with the frame's width, and chunks that paid a one-time import must not teach the scheduler."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from rowpool import _codec, _core, _dispatch, _task_block
from rowpool._pandas.chunk import decode_chunk
from rowpool._pandas.rows import JobContext, RowSource
from rowpool._pandas.source import FrameSource
from rowpool._results import run_here
from rowpool._spec import JobSpec
from rowpool._worker import _describe_pickled, _encode

ROWS = 8


def _wide_frame(width: int, extra: str) -> pd.DataFrame:
    df = pd.DataFrame(np.arange(ROWS * width, dtype=np.float64).reshape(ROWS, width))
    if extra == "str":
        df["s"] = "x"  # an object row, built straight from the chunk's parts
    else:
        df["t"] = pd.date_range("2024-01-01", periods=ROWS, freq="D")  # rows from the chunk's frame
    return df


def _constructions_running_one_chunk(df: pd.DataFrame, func, monkeypatch) -> int:
    """How many pandas Series and DataFrames a worker builds running ``func`` over ``df`` as one
    chunk (the worker's own code, in this process)."""
    source = FrameSource(df, for_rows=True)
    spec = JobSpec(func, "rows", source.schema)
    parts = source.chunk_parts(0, len(df))
    memory = np.zeros(_codec.packed_size(parts) + 64, dtype=np.uint8)
    _codec.pack(memory, 0, parts)
    context = JobContext(spec)
    context.columns  # noqa: B018 - unpickled once per job, not per chunk
    count = 0
    for cls in (pd.Series, pd.DataFrame):
        original = cls.__init__

        def counting(self, *args, _original=original, **kwargs):
            nonlocal count
            count += 1
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting)
    try:
        batch = _core.RowBatch(RowSource(context, decode_chunk(memory, 0, context)))
        failures = run_here(
            ROWS,
            lambda results: _core.run_rows(func, batch, (), None, True, False, None, results),
            _encode,
            _describe_pickled,
        ).failures
    finally:
        monkeypatch.undo()
    assert not failures
    return count


@pytest.mark.parametrize("extra", ["str", "datetime"])
def test_row_series_set_up_does_not_grow_with_the_width(extra, monkeypatch):
    def first(row):
        return row.iloc[0]  # not a field: needs the row's genuine Series

    narrow = _constructions_running_one_chunk(_wide_frame(20, extra), first, monkeypatch)
    wide = _constructions_running_one_chunk(_wide_frame(2000, extra), first, monkeypatch)
    assert wide == narrow
    assert wide <= 3 * ROWS + 10  # a Series per row, a few objects per chunk


def _shuffled_blocks(rows: int) -> pd.DataFrame:
    """Float, int and bool columns interleaved (pandas' blocks then hold scattered positions), a
    str column in the middle, an object column of mixed values."""
    rng = np.random.default_rng(3)
    columns = {}
    for j in range(40):
        kind = j % 4
        if kind == 0:
            columns[f"f{j}"] = rng.normal(size=rows)
        elif kind == 1:
            columns[f"i{j}"] = rng.integers(-5, 5, rows)
        elif kind == 2:
            columns[f"b{j}"] = rng.random(rows) > 0.5
        else:
            columns[f"f{j}"] = rng.normal(size=rows).astype(np.float32)
        if j == 20:
            columns["s"] = pd.Series(["p", None, "q"] * (rows // 3) + ["r"] * (rows % 3))
    columns["o"] = pd.Series([1, "two", 3.0, None] * (rows // 4) + [5] * (rows % 4), dtype=object)
    return pd.DataFrame(columns)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(lambda n: _wide_frame(3000, "str").head(n), id="wide_str"),
        pytest.param(lambda n: _shuffled_blocks(n), id="shuffled_blocks"),
        pytest.param(lambda n: _shuffled_blocks(n).drop(columns=["s", "o"]), id="numeric_blocks"),
        pytest.param(lambda n: _shuffled_blocks(n).select_dtypes("number"), id="int_and_float"),
    ],
)
def test_row_series_of_many_blocks_match_pandas(pool, frame):
    df = frame(30)
    for func in (
        lambda r: r.iloc[0],
        lambda r: r.iloc[-1],
        lambda r: repr(r.to_numpy().tolist()),
        lambda r: str(r.dtype),
        lambda r: [type(v).__name__ for v in r.values],
    ):
        expected = df.apply(func, axis=1)
        pd.testing.assert_series_equal(pool.apply(df, func, chunk_rows=7), expected)


def test_a_row_series_kept_or_changed_by_the_function_is_its_own(pool):
    df = _wide_frame(50, "str").head(12)

    def change(row):
        row.iloc[0] = -1.0
        return row

    expected = df.apply(change, axis=1)
    pd.testing.assert_frame_equal(pool.apply(df, change, chunk_rows=5), expected)


def _import_at_row_zero(row, module: str):
    if row[0] == 0:
        importlib.import_module(module)
    return row[0]


def test_a_chunk_that_imports_modules_teaches_the_scheduler_nothing(pool, tmp_path, monkeypatch):
    module = f"imported_{tmp_path.name}".replace("-", "_")
    (tmp_path / f"{module}.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    recorded = []

    class RecordingScheduler:
        def __init__(self, *args, **kwargs):
            self.scheduler = real(*args, **kwargs)

        def record(self, rows, seconds):
            recorded.append(rows)
            self.scheduler.record(rows, seconds)

        def __getattr__(self, name):
            return getattr(self.scheduler, name)

    real = _core.Scheduler
    monkeypatch.setattr(_core, "Scheduler", RecordingScheduler)
    df = pd.DataFrame({0: np.arange(20, dtype=np.int64), 1: 1.5})
    result = pool.apply(df, _import_at_row_zero, args=(module,), chunk_rows=6)
    pd.testing.assert_series_equal(result, df.apply(_import_at_row_zero, axis=1, args=(module,)))
    # Chunks of 6, 6, 6 and 2 rows: the first paid the import of the module, and was not recorded.
    assert sorted(recorded) == [2, 6, 6]


def _row_sum(row):
    return row.sum()


def test_a_chunk_holds_at_most_max_chunk_bytes(pool, monkeypatch):
    # Cheap rows of a long frame: the time target alone cuts chunks of up to 1/5 of the arena
    # (here ~16,000 rows, 1.5 MB, by the tail rule). Capped, the arena pages a job touches stay
    # the same however many rows it has (bench/scaling.py).
    cap = 256 << 10
    monkeypatch.setattr(_dispatch, "MAX_CHUNK_BYTES", cap)
    chunks = []
    real = _task_block.write

    def recording(memory, block, plan, parts, rows, *args):
        chunks.append((plan.total, rows.end - rows.begin))
        return real(memory, block, plan, parts, rows, *args)

    monkeypatch.setattr(_task_block, "write", recording)
    df = pd.DataFrame(np.random.default_rng(0).random((100_000, 10)), columns=list("abcdefghij"))
    pd.testing.assert_series_equal(pool.apply(df, _row_sum), df.apply(_row_sum, axis=1))
    assert sum(rows for _bytes, rows in chunks) == len(df)
    largest = max(block for block, _rows in chunks)
    assert cap // 2 < largest <= cap  # chunks grew up to the cap, not past it
