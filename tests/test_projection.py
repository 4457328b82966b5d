"""Chunks carry only the columns rows read (issue 18.1, see ``rowpool._projection``): results stay
pandas' own whatever the rows read, whenever they read it; a row reading a column its chunk lacks
fetches it on the spot, also across a worker's death while it waits; the bytes moved shrink.

Rows run in workers (``pool=`` or ``in_process=False``) with small chunks, so that most chunks are
cut after the first reports. The functions are built in factories so cloudpickle ships them by
value (workers never import this module)."""

from __future__ import annotations

import os
import signal

import numpy as np
import pandas as pd
import pytest

import rowpool
from rowpool import _dispatch, _local, _projection, _task_block

pytestmark = pytest.mark.timeout(120)

ROWS = 6_000
CHUNK = 200


def wide(rows=ROWS, width=60, seed=0):
    """A float frame of ``width`` columns (one numpy block) plus int and bool columns."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.random((rows, width)), columns=[f"c{j}" for j in range(width)])
    frame["i"] = np.arange(rows, dtype=np.int64)
    frame["flag"] = np.arange(rows) % 3 == 0
    return frame


def mixed(rows=ROWS):
    """Columns that make the row dtype object: str (object and Arrow-backed), categorical,
    datetime, tz-aware datetime, nullable ints, floats."""
    positions = np.arange(rows)
    return pd.DataFrame(
        {
            "x": positions * 0.5,
            "s": np.array(["a", "bb", "ccc"], dtype=object)[positions % 3],
            "arrow": pd.array(np.array(["p", "q"])[positions % 2], dtype="string[pyarrow]"),
            "cat": pd.Categorical(np.array(["u", "v", "w"])[positions % 3]),
            "t": pd.to_datetime(positions, unit="s"),
            "tz": pd.to_datetime(positions, unit="m").tz_localize("Europe/Paris"),
            "n": pd.array(np.where(positions % 5 == 0, None, positions), dtype="Int64"),
            "y": positions.astype(np.float32),
        }
    )


def same(df, func, **options):
    """``rowpool.apply`` in workers equals ``df.apply(func, axis=1)``; returns the job's traffic."""
    options.setdefault("chunk_rows", CHUNK)
    if "pool" not in options:
        options.setdefault("in_process", False)
    got = rowpool.apply(df, func, **options)
    pd.testing.assert_series_equal(got, df.apply(func, axis=1))
    return _projection.last_traffic()


def frame_bytes(df) -> int:
    return int(df.memory_usage(index=False).sum())


def test_a_few_columns_read_move_a_fraction_of_the_frame(pool):
    df = wide()
    traffic = same(df, lambda row: row["c3"] * row["i"] + row.c50, pool=pool)
    assert traffic.fetches == 0
    # The chunks sent before the first report carry every column; the rest only the three read.
    assert traffic.total < frame_bytes(df) / 4


def test_a_thousand_columns_reading_two_move_far_fewer_bytes_than_the_frame(pool):
    df = pd.DataFrame(np.random.default_rng(1).random((4_000, 1_000)))
    traffic = same(df, lambda row: row[7] - row[993], pool=pool, chunk_rows=100)
    assert traffic.chunks == 40
    assert traffic.total < frame_bytes(df) / 5


@pytest.mark.parametrize("rows_major", [True, False])
def test_chunks_read_different_columns(pool, rows_major):
    df = wide()
    if not rows_major:  # built column by column: a block stored column after column
        df = pd.DataFrame({label: df[label].to_numpy() for label in df.columns})
        assert not df._mgr.blocks[0].values.T.flags.c_contiguous

    def by_chunk(row):
        return row[f"c{int(row['i']) // 700}"] - row["c59"]  # a new column every 700 rows

    traffic = same(df, by_chunk, pool=pool)
    assert traffic.fetches > 0


def test_a_column_read_on_one_row_in_ten_thousand():
    df = wide(rows=30_000, width=20)

    def rare(row):
        i = int(row["i"])
        return row["c0"] + (row[f"c{1 + i // 10_000}"] if i % 10_000 == 9_999 else 0.0)

    traffic = same(df, rare, chunk_rows=500)
    assert traffic.fetches >= 2  # columns c2 and c3 first read in a chunk cut without them


def test_a_column_read_on_the_last_row_only(pool):
    df = wide()
    last = len(df) - 1
    func = lambda row: row["c1"] + (row["c59"] if row["i"] == last else 0.0)  # noqa: E731
    assert same(df, func, pool=pool).fetches == 1
    assert same(df, func, pool=pool, timeout=60).fetches == 1  # the row's deadline runs on


def make_slow_reader(spin: int):
    """Reads two columns, then spins ``spin`` loop iterations (a row worth running in a worker)."""

    def slow(row):
        total = row["c1"] + row["c400"]
        for _ in range(spin):
            total += 0.0
        return total

    return slow


@pytest.mark.tiny_jobs_in_process
def test_rows_run_in_the_calling_process_cut_the_first_chunks_of_workers(monkeypatch):
    monkeypatch.setattr(_local, "START_SECONDS", 0.02)  # the job is worth ten worker starts
    df = pd.DataFrame(np.random.default_rng(2).random((20_000, 500))).add_prefix("c")
    func = make_slow_reader(300)
    cut = _projection.ChunkColumns.parts
    projections = []

    def spy(self, source, begin, end):
        parts, number = cut(self, source, begin, end)
        projections.append((begin, number))
        return parts, number

    monkeypatch.setattr(_projection.ChunkColumns, "parts", spy)
    got = rowpool.apply(df, func)
    pd.testing.assert_series_equal(got, df.apply(func, axis=1))
    assert projections and projections[0][0] > 0  # the first rows ran here, the rest in workers
    assert all(number > 0 for _begin, number in projections)  # no chunk carried every column
    assert _projection.last_traffic().chunk_bytes < frame_bytes(df) / 50


def test_chunks_carrying_a_few_columns_hold_more_rows_than_whole_rows_would_fit(monkeypatch):
    """A chunk's rows are bounded by its worker's share of the arena over the bytes of a row as
    the chunk carries it: once chunks carry two of 500 columns, they grow past what whole rows
    allowed (fewer chunks, each with its fixed cost in the parent and the worker)."""
    df = pd.DataFrame(np.random.default_rng(3).random((12_000, 500))).add_prefix("c")
    send = _dispatch.Dispatcher.send_task
    sizes, whole_row_limits = [], []

    def spy(self, worker, task, record):
        sizes.append(task.rows.end - task.rows.begin)
        whole_row_limits.append(
            self.chunk_budget // (self.source.estimated_row_bytes() + _task_block.RESULT_BYTES_PER_ROW)
        )
        return send(self, worker, task, record)

    monkeypatch.setattr(_dispatch.Dispatcher, "send_task", spy)
    with rowpool.Pool(workers=2, memory_budget=8 << 20) as small:
        traffic = same(df, lambda row: row["c1"] + row["c400"], pool=small, chunk_rows=None)
    assert traffic.fetches == 0
    assert max(whole_row_limits) < 500  # whole rows: a few hundred per chunk
    assert max(sizes) > 2 * max(whole_row_limits)
    assert sum(sizes) == len(df)


def test_rows_needing_every_column_after_projection_started(pool):
    df = wide(width=8)
    late = ROWS // 2

    def values(row):
        return row.values.sum() if row["i"] == late else row["c1"]

    def iterate(row):
        return sum(v for v in row) if row["i"] == late else row["c1"]

    def as_dict(row):
        return len(row.to_dict()) + row["c2"] if row["i"] >= late else row["c1"]

    def index_and_name(row):
        return f"{row.name}:{len(row.index)}:{row.index[-1]}"  # no column read at all

    for func in (values, iterate, as_dict):
        traffic = same(df, func, pool=pool)
        assert traffic.fetches >= 1
    same(df, index_and_name, pool=pool)


def test_duplicate_column_labels(pool):
    df = wide(width=6)
    df.columns = ["a", "b", "a", "c", "d", "b", "i", "flag"]
    same(df, lambda row: row["c"] + (row["a"].sum() if row["i"] % 1_000 == 999 else 0.0), pool=pool)


def test_object_rows_of_str_categorical_and_datetime_columns(pool):
    df = mixed()
    late = ROWS - 10

    def reads(row):
        text = row["s"] + str(row["cat"])
        if row["x"] >= late / 2:
            text += f"{row['arrow']}{row['t']}{row['tz']}{row['n']}{row['y']}"
        return text

    traffic = same(df, reads, pool=pool)
    assert traffic.fetches >= 1
    same(df, lambda row: str(row.to_dict()) if row["x"] == 1_000 else str(row["t"]), pool=pool)


def test_rows_of_an_extension_dtype(pool):
    positions = np.arange(ROWS)
    df = pd.DataFrame(
        {f"n{j}": pd.array(np.where(positions % 7 == j, None, positions * j), "Int64") for j in range(6)}
    )
    late = ROWS - 300

    def reads(row):
        return str(row.to_dict()) if row.name == late else str(row["n1"] + row["n2"])

    assert same(df, reads, pool=pool).fetches >= 1


def test_failures_after_a_fetch_raise_and_collect_as_pandas_rows(pool):
    df = wide(width=10)
    late = ROWS - 100

    def failing(row):
        if row["i"] >= late:
            return 1.0 / (row["c9"] - row["c9"])
        return row["c0"]

    with pytest.raises(ZeroDivisionError) as raised:
        rowpool.apply(df, failing, pool=pool, chunk_rows=CHUNK)
    assert isinstance(raised.value, rowpool.RowError) and raised.value.position == late
    result, failures = rowpool.apply(df, failing, pool=pool, chunk_rows=CHUNK, errors="collect")
    assert list(failures.index) == list(range(late, ROWS))
    pd.testing.assert_series_equal(result.iloc[:late], df["c0"].iloc[:late], check_names=False)
    # The pool goes on: no reply of the jobs above reaches the next one.
    same(df, lambda row: row["c4"] + row["c5"], pool=pool)


def test_a_worker_killed_while_it_waits_for_columns(pool, monkeypatch):
    df = wide()
    answer = _dispatch.Dispatcher.send_columns
    killed = []

    def kill_first(self, worker, chunk_id, request):
        if not killed:
            killed.append(self.workers[worker].pid)
            os.kill(self.workers[worker].pid, signal.SIGKILL)
        return answer(self, worker, chunk_id, request)

    monkeypatch.setattr(_dispatch.Dispatcher, "send_columns", kill_first)
    same(df, lambda row: row["c1"] + (row["c9"] if row["i"] >= ROWS // 2 else 0.0), pool=pool)
    assert killed and killed[0] not in pool.pids()
    assert pool.arena.blocks == 0 and pool.arena.used == 0


def test_a_job_interrupted_while_a_worker_waits_for_columns(monkeypatch):
    df = wide(width=10)
    func = lambda row: row["c1"] + (row["c9"] if row["i"] >= ROWS // 2 else 0.0)  # noqa: E731
    answer = _dispatch.Dispatcher.send_columns

    def interrupt(self, worker, chunk_id, request):
        raise KeyboardInterrupt  # as Ctrl-C would, with the worker blocked until its reply

    monkeypatch.setattr(_dispatch.Dispatcher, "send_columns", interrupt)
    with pytest.raises(KeyboardInterrupt):
        rowpool.apply(df, func, in_process=False, chunk_rows=CHUNK)
    monkeypatch.setattr(_dispatch.Dispatcher, "send_columns", answer)
    # The default pool was aborted and comes back for the next jobs, which fetch too.
    assert same(df, func).fetches >= 1
    assert same(df, lambda row: row["c2"] * (row["c8"] if row["i"] == ROWS - 1 else 1.0)).fetches == 1


def make_dies_once(marker: str, row_to_die: int):
    """A row function reading a new column on ``row_to_die``, then SIGKILLing its worker, once."""

    def dies_once(row):
        import os as _os

        value = row["c0"]
        if row["i"] == row_to_die:
            value += row["c7"]
            try:
                _os.close(_os.open(marker, _os.O_CREAT | _os.O_EXCL))
            except FileExistsError:
                return value
            _os.kill(_os.getpid(), 9)
        return value

    return dies_once


def test_a_worker_killed_right_after_a_fetch(pool, tmp_path):
    df = wide(width=8)
    same(df, make_dies_once(str(tmp_path / "died"), ROWS - 50), pool=pool)
    assert (tmp_path / "died").exists()
    assert pool.arena.blocks == 0


def test_a_file_input_moves_only_the_columns_read(tmp_path):
    df = wide(rows=20_000, width=30)
    path = tmp_path / "wide.parquet"
    df.to_parquet(path, row_group_size=3_000)
    func = lambda row: row["c2"] * 2  # noqa: E731
    got = rowpool.apply(str(path), func, in_process=False, chunk_rows=500, max_memory="64MB")
    pd.testing.assert_series_equal(got, df.apply(func, axis=1), check_index_type=False)
    assert _projection.last_traffic().total < frame_bytes(df) / 4


def test_batches_and_series_rows_carry_every_column(pool):
    df = wide(width=8)
    rowpool.map_batches(df, lambda chunk: chunk["c1"] * 2, pool=pool, chunk_rows=CHUNK)
    every = _projection.last_traffic().chunk_bytes
    assert every >= frame_bytes(df)
    got = rowpool.apply(df, lambda row: row["c1"], pool=pool, chunk_rows=CHUNK, row_type="series")
    pd.testing.assert_series_equal(got, df["c1"].rename(None))
    assert _projection.last_traffic().chunk_bytes >= frame_bytes(df)


def test_columns_holding_most_of_a_row_move_every_column(pool):
    df = wide(width=10).drop(columns=["i", "flag"])
    traffic = same(df, lambda row: sum(row[f"c{j}"] for j in range(9)), pool=pool)
    assert traffic.chunk_bytes >= frame_bytes(df)
    traffic = same(df, lambda row: sum(row[f"c{j}"] for j in range(7)), pool=pool)
    assert traffic.chunk_bytes < frame_bytes(df)


def test_projection_can_be_turned_off(pool, monkeypatch):
    monkeypatch.setattr(_projection, "ENABLED", False)
    df = wide(width=8)
    traffic = same(df, lambda row: row["c1"], pool=pool)
    assert traffic.chunk_bytes >= frame_bytes(df) and traffic.fetches == 0
