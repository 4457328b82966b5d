"""The result area: every row's result written into shared memory as the row finishes (typed slots
for scalars, a log for str / objects / failures, spilled on the queue when it does not fit) must
come back exactly as pandas' own ``df.apply(f, axis=1)`` returns it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rowpool
from rowpool._pandas.sink import RowsSink
from rowpool._results import ChunkResults, RowTag, present_tags


def _same(got, expected) -> None:
    pd.testing.assert_series_equal(got, expected)
    assert [type(v) for v in got] == [type(v) for v in expected]


def test_str_and_objects_larger_than_the_log_spill_in_order(pool):
    # Rows of 0..2 KB strings and lists, and every 500th a 200 KB str: the first chunks' logs
    # overflow, whole and entry by entry, and every value must land on its own row.
    df = pd.DataFrame({"a": range(3000)})

    def f(row):
        a = int(row["a"])
        if a % 500 == 0:
            return "y" * 200_000
        return "x" * (a % 7 * 300) + str(a) if a % 3 else [a, str(a)]

    _same(pool.apply(df, f), df.apply(f, axis=1))


@pytest.mark.parametrize(
    "f",
    [
        lambda r: 1 if r["a"] % 3 else 2.5,  # ints mixed with floats: float64
        lambda r: np.float64(r["a"]) if r["a"] % 2 else float(r["a"]),
        lambda r: np.int64(1) if r["a"] % 2 else True,  # object: each keeps its type
        lambda r: bool(r["a"] % 2) if r["a"] % 5 else np.bool_(True),
        lambda r: 2**70 if r["a"] == 9 else int(r["a"]),  # beyond int64
        lambda r: None if r["a"] % 4 == 0 else "s" + str(r["a"]),
        lambda r: "\ud800" if r["a"] == 3 else 1,  # a lone surrogate has no UTF-8
        lambda r: 2.5 if r["a"] >= 35 else int(r["a"]),  # ints, then floats in the last chunk only
        lambda r: None if r["a"] % 9 == 0 else int(r["a"]),  # ints with None: float64 with NaN
        lambda r: [r["a"]] if r["a"] == 20 else r["a"] / 2,  # one object among floats: object
    ],
    ids=[
        "int+float",
        "numpy+python float",
        "numpy int+bool",
        "bools",
        "bigint",
        "none+str",
        "surrogate",
        "float in last chunk",
        "int+none",
        "float+list",
    ],
)
def test_scalar_kinds_keep_pandas_dtype_and_types(pool, f):
    df = pd.DataFrame({"a": range(40)})
    _same(pool.apply(df, f, chunk_rows=7), df.apply(f, axis=1))


def test_failures_sit_between_results(pool):
    df = pd.DataFrame({"a": range(30)})

    def f(row):
        if row["a"] % 4 == 1:
            raise KeyError(int(row["a"]))
        return "v" * int(row["a"])

    result, failures = pool.apply(df, f, errors="collect", chunk_rows=8)
    expected = df.apply(lambda r: None if r["a"] % 4 == 1 else f(r), axis=1)
    _same(result, expected)
    assert list(failures.index) == [a for a in range(30) if a % 4 == 1]
    assert set(failures["exception"]) == {"KeyError"}


def test_map_batches_result_larger_than_the_log(pool):
    df = pd.DataFrame({"a": np.arange(20_000, dtype=np.int64)})
    got = rowpool.map_batches(df, lambda c: c.assign(b=c["a"].astype(str) * 20), pool=pool, chunk_rows=5_000)
    pd.testing.assert_frame_equal(got, df.assign(b=df["a"].astype(str) * 20))


def test_a_numeric_result_is_built_in_place_by_the_sink():
    # The pandas sink places each range into one buffer as it arrives and the result Series wraps
    # that buffer: the results' bytes are held once, whatever the rows (bench/scaling.py).
    frame = pd.DataFrame({"a": range(10)})
    sink = RowsSink(frame, "raise")
    sink.write(0, 4, ChunkResults(np.full(4, RowTag.INT, np.uint8), np.arange(4, dtype=np.int64)))
    floats = np.arange(4, 10, dtype=np.float64)
    sink.write(4, 10, ChunkResults(np.full(6, RowTag.FLOAT, np.uint8), floats.view(np.int64)))
    result = sink.finish([])
    pd.testing.assert_series_equal(result, pd.Series(np.arange(10, dtype=np.float64)))
    assert np.shares_memory(result.to_numpy(), sink.results.slots)


def test_present_tags_counts_past_its_block():
    tags = np.full(3 * (1 << 16) + 5, RowTag.FLOAT, dtype=np.uint8)
    tags[-1] = RowTag.STR
    assert present_tags(tags) == [RowTag.FLOAT, RowTag.STR]


def test_one_str_after_many_floats_makes_an_object_result(pool):
    df = pd.DataFrame({"a": range(70_000)})

    def f(row):
        return "last" if row["a"] == 69_999 else row["a"] * 0.5

    _same(pool.apply(df, f), df.apply(f, axis=1))
