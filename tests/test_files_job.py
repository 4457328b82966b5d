"""A file job is one rowpool job over all its windows: init= once per worker, chunks across window
boundaries, columns typed as pandas types the whole input, each row once in order."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rowpool
from rowpool.files._job import budget
from rowpool.files._window_source import join_parts

ROWS = 150_000  # several windows of max_memory="64MB" (they start small and double)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("job") / "mixed.parquet")
    positions = np.arange(ROWS)
    table = pa.table(
        {
            "id": positions,
            "x": positions * 0.5,
            "n": pa.array(positions % 7, mask=positions == ROWS - 3),  # one missing value, near the end
            "s": pa.array(np.array(["a", "bb", "ccc"])[positions % 3]).cast(pa.large_string()),
            "flag": pa.array(positions % 2 == 0, mask=positions == ROWS - 5),
            "tags": pa.array([[int(p % 4)] for p in positions]),
            "t": pa.array(positions * 10**9, pa.timestamp("ns")),
        }
    )
    pq.write_table(table, path, row_group_size=20_000)
    return path


def describe(row):
    return f"{row['x']}|{row['n']!r}|{row['s']}|{row['flag']!r}|{list(row['tags'])}|{row['t']}"


def token(_state=None):
    return uuid.uuid4().hex


def with_token(row, state):
    return state


def test_init_runs_once_per_worker_for_the_whole_file(mixed):
    result = rowpool.apply(mixed, with_token, init=token, workers=2, max_memory="64MB", in_process=False)
    assert len(result) == ROWS
    assert 1 <= result.nunique() <= 2  # one state per worker, not one per window


def test_rows_across_windows_equal_pandas_on_the_whole_file(mixed):
    expected = pd.read_parquet(mixed).apply(describe, axis=1)
    result = rowpool.apply(mixed, describe, workers=2, max_memory="64MB", chunk_rows=997)
    pd.testing.assert_series_equal(result, expected)


def test_batches_across_windows_keep_every_row_once_in_order(mixed, tmp_path):
    output = tmp_path / "out.parquet"
    summary = rowpool.map_batches(
        mixed,
        lambda chunk: chunk["x"] * 2,
        output=str(output),
        keep=["id"],
        chunk_rows=997,
        max_memory="64MB",
    )
    assert summary.rows == ROWS
    written = pq.read_table(output)
    assert written.column("id").to_pylist() == list(range(ROWS))
    np.testing.assert_array_equal(written.column("x").to_numpy(), np.arange(ROWS) * 1.0)


def test_a_failing_row_commits_only_the_windows_before_it(mixed, tmp_path):
    def fails_late(row):
        if row["id"] == ROWS - 10:
            raise KeyError("late")
        return row["x"]

    output = tmp_path / "out.parquet"
    with pytest.raises(KeyError, match="late"):
        rowpool.apply(mixed, fails_late, output=str(output), max_memory="64MB", chunk_rows=997)
    assert not output.exists()
    summary = rowpool.apply(mixed, lambda row: row["x"], output=str(output), max_memory="64MB", resume=True)
    assert 0 < summary.resumed_rows < ROWS - 10
    assert pq.read_table(output).column("result").to_pylist() == (np.arange(ROWS) * 0.5).tolist()


try:  # pandas' str dtype (Arrow-backed, NaN for missing values)
    STRINGS = pd.StringDtype("pyarrow", na_value=np.nan)
except TypeError:  # pandas 2.2 spells it this way
    STRINGS = pd.StringDtype("pyarrow_numpy")


def test_join_parts_joins_every_kind_of_part():
    frame = pd.DataFrame(
        {
            "f": np.arange(6, dtype=np.float64),
            "g": np.arange(6, dtype=np.float64),
            "o": pd.array([1, None, 3, 4, None, 6], dtype="Int64"),
            "s": pd.array(["a", None, "ccc", "", "ee", "f"], dtype=STRINGS),
        },
        index=pd.RangeIndex(10, 16),
    )
    from rowpool._pandas.source import FrameSource

    source = FrameSource(frame, for_rows=True, cells=False)
    pieces = [
        FrameSource(frame.iloc[:2], for_rows=True, cells=False),
        FrameSource(frame.iloc[2:], for_rows=True, cells=False),
    ]
    assert [p.layout for p in pieces] == [source.layout] * 2
    joined = join_parts(source.layout, [pieces[0].chunk_parts(0, 2), pieces[1].chunk_parts(0, 4)], [2, 4])
    whole = source.chunk_parts(0, 6)
    assert len(joined) == len(whole)
    for mine, theirs in zip(joined, whole):
        if isinstance(theirs, bytes):
            import pickle

            left, right = pickle.loads(mine), pickle.loads(theirs)
            assert list(left) == list(right) or pd.Series(left).equals(pd.Series(right))
        else:
            np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))


def slow_first_row(row):
    if row["id"] == 0:
        import time

        time.sleep(2)
    return row["x"]


def test_a_slow_first_chunk_does_not_make_the_job_read_ahead_without_bound(tmp_path, monkeypatch):
    from rowpool.files import _window_source

    rows = 3_000_000  # 48 MB: about a dozen windows of max_memory="64MB"
    path = str(tmp_path / "long.parquet")
    table = pa.table({"id": np.arange(rows), "x": np.arange(rows) * 0.5})
    pq.write_table(table, path, row_group_size=250_000)
    held, read = [], []
    original = _window_source.WindowSource._read

    def counted(self):
        window = original(self)
        held.append(self.held_bytes)
        read.append(window)
        return window

    monkeypatch.setattr(_window_source.WindowSource, "_read", counted)
    result = rowpool.apply(path, slow_first_row, workers=2, max_memory="64MB", in_process=False)
    assert result.tolist() == (np.arange(rows) * 0.5).tolist()
    window_bytes = budget(rowpool.files.parse_size("64MB"))[1]
    bound = (_window_source.HELD_WINDOWS + 1) * window_bytes  # the read that passed the bound
    assert 16 * rows > bound  # the file is more than what may be held
    assert max(held) <= bound


def test_windows_grow_then_shrink_towards_the_end_of_an_input_of_known_length():
    """The results of the last window are written after its last row: windows of an input whose
    length is known take half of what is left near its end, so the last is no longer than the
    first; every row comes once, in order. A stream (length unknown) keeps doubling."""
    from rowpool.files._sources import StreamSource, TableSource
    from rowpool.files._windows import ArrowWindows

    table = pa.table({"x": np.arange(400_000, dtype=np.float64)})  # 3.2 MB
    window_bytes = 1 << 20

    def lengths(source):
        windows = ArrowWindows(source, ["x"], [], window_bytes)
        return [(w.begin, w.end) for w in windows(0)]

    known = lengths(TableSource(table, "arrow"))
    assert [b for b, _ in known[1:]] == [e for _, e in known[:-1]] and known[-1][1] == len(table)
    sizes = [e - b for b, e in known]
    peak = sizes.index(max(sizes))
    assert 0 < peak < len(sizes) - 2  # grows, then shrinks over several windows
    assert sizes[peak:] == sorted(sizes[peak:], reverse=True)
    assert sizes[-1] <= sizes[0]

    streamed = lengths(StreamSource(pa.RecordBatchReader.from_batches(table.schema, table.to_batches())))
    stream_sizes = [e - b for b, e in streamed]
    assert stream_sizes[:-1] == sorted(stream_sizes[:-1])  # only grows (its length is unknown)
    assert sum(stream_sizes) == len(table)
