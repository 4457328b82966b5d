"""Tiny jobs in the calling process (``in_process``): the same results and error semantics as in
workers, ``func`` once per row also when a job starts here and its rest goes to workers."""

from __future__ import annotations

import functools
import os
import time

import numpy as np
import pandas as pd
import pytest

import rowpool
from rowpool import _local, _spec
from test_dtypes import FRAMES, ROW_PROBES, assert_identical, check_all

pytestmark = [pytest.mark.timeout(60), pytest.mark.tiny_jobs_in_process]


def frame(n=20):
    return pd.DataFrame(
        {"a": np.arange(n, dtype=np.int64), "b": np.arange(n) * 0.5, "s": [f"s{i}" for i in range(n)]},
        index=[f"r{i}" for i in range(n)],
    )


def pid_of_row(_row):
    return os.getpid()


class InProcess:
    """Stands in for a Pool in test_dtypes' helpers: ``apply`` runs every row in this process."""

    apply = functools.partial(rowpool.apply, in_process=True)


@pytest.mark.parametrize("name", list(FRAMES))
def test_row_matrix_in_process_like_pandas(name):
    check_all(InProcess, FRAMES[name], ROW_PROBES, chunk_rows=2)


@pytest.mark.parametrize("name", list(FRAMES))
def test_series_rows_in_process_like_pandas(name):
    describe = {"describe": lambda r: (type(r).__name__, str(r.dtype), repr(r)), "itself": lambda r: r}
    check_all(InProcess, FRAMES[name], describe, row_type="series", chunk_rows=4)


def test_tiny_job_runs_in_the_calling_process_by_default():
    df = frame()
    result = rowpool.apply(df, pid_of_row)
    assert set(result) == {os.getpid()}
    assert_identical(
        rowpool.apply(df, lambda r: r["a"] * 2 + r["b"]), df.apply(lambda r: r["a"] * 2 + r["b"], axis=1)
    )


def test_in_process_false_pool_timeout_and_memory_limit_use_workers():
    df = frame(4)
    assert os.getpid() not in set(rowpool.apply(df, pid_of_row, in_process=False))
    assert os.getpid() not in set(rowpool.apply(df, pid_of_row, timeout=30))
    assert os.getpid() not in set(rowpool.apply(df, pid_of_row, max_worker_memory=1 << 30))
    with rowpool.Pool(1) as pool:
        assert os.getpid() not in set(pool.apply(df, pid_of_row))
        assert set(pool.apply(df, pid_of_row, in_process=True)) == {os.getpid()}


def test_in_process_true_runs_a_long_job_here():
    df = frame(30)

    def slow(row):
        time.sleep(0.01)
        return os.getpid()

    assert set(rowpool.apply(df, slow, in_process=True)) == {os.getpid()}


def test_in_process_argument_checks():
    with pytest.raises(TypeError, match="in_process"):
        rowpool.apply(frame(), pid_of_row, in_process="yes")
    with pytest.raises(ValueError, match="in_process=True cannot enforce timeout"):
        rowpool.apply(frame(), pid_of_row, in_process=True, timeout=1)
    with pytest.raises(ValueError, match="in_process=True cannot enforce"):
        rowpool.map_batches(frame(), len, in_process=True, max_worker_memory=1 << 30)


def counting(path, inner):
    """``inner`` that also appends the row's label and its process id to ``path`` (O_APPEND: one
    line per call, whichever process makes it)."""

    def func(row):
        with open(path, "a") as log:
            log.write(f"{row.name} {os.getpid()}\n")
        return inner(row)

    return func


def test_job_too_long_for_the_budget_hands_the_rest_to_workers(tmp_path, monkeypatch):
    monkeypatch.setattr(_local, "START_SECONDS", 0.05)
    df = frame(150)

    def slow(row):
        time.sleep(0.002)
        return row["a"] * 3

    log = tmp_path / "calls"
    result = rowpool.apply(df, counting(log, slow), workers=2)
    assert_identical(result, df.apply(slow, axis=1))
    calls = [line.split() for line in log.read_text().splitlines()]
    assert sorted(label for label, _ in calls) == sorted(df.index)  # once per row
    pids = [int(pid) for _, pid in calls]
    here = pids.count(os.getpid())
    assert 0 < here < len(df)  # started here, finished in workers
    assert pids[0] == os.getpid()  # the first rows price the job here


@pytest.fixture
def without_bridge(monkeypatch):
    """Only ``LocalRun``'s own choice: no rows run here while the workers start."""
    monkeypatch.setattr(_local.LocalRun, "can_bridge", lambda self: False)


def spin(seconds):
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pass


def test_a_remainder_cheaper_than_a_start_finishes_here_after_a_slow_row(monkeypatch):
    # 400 rows of 0.1 ms and one of 250 ms: the rows run here pass the budget (200 ms: a 0.1 s
    # start, 2 workers) at row 200, but the 200 rows left cost ~20 ms, far less than starting
    # workers: they finish here.
    monkeypatch.setattr(_local, "START_SECONDS", 0.1)
    df = frame(400)

    def func(row):
        spin(0.25 if row["a"] == 200 else 0.0001)
        return os.getpid()

    pids = rowpool.apply(df, func, workers=2)
    assert (pids == os.getpid()).all()


def test_rows_growing_costlier_past_the_budget_go_to_workers(monkeypatch, without_bridge):
    # Cheap rows project the job within the budget, then every row costs 2 ms: priced at the
    # recent pieces' rate, the rows left go to workers instead of running here one by one.
    # (A start of 0.05 s: with 2 workers the budget is twice that.)
    monkeypatch.setattr(_local, "START_SECONDS", 0.05)
    df = frame(600)

    def func(row):
        spin(0.002 if row["a"] >= 100 else 0.0001)
        return os.getpid()

    pids = rowpool.apply(df, func, workers=2)
    here = int((pids == os.getpid()).sum())
    assert 100 <= here <= 350  # 500 rows x 2 ms are 10 budgets: most of them ran in workers


def test_first_rows_cost_projects_a_long_job_to_workers_early(without_bridge):
    df = frame(400)

    def slow(row):
        time.sleep(0.005)
        return os.getpid()

    pids = rowpool.apply(df, slow, workers=2)
    here = int((pids == os.getpid()).sum())
    # 400 rows x 5 ms is far over the budget: only the probe (~PROBE_SECONDS) runs here.
    assert 1 <= here <= 2 * _local.PROBE_SECONDS / 0.005 + 1


def test_row_error_in_process_like_in_workers():
    df = frame()

    def fail_on_7(row):
        if row["a"] == 7:
            raise KeyError("seven")
        return row["a"]

    with pytest.raises(rowpool.RowError) as in_process:
        rowpool.apply(df, fail_on_7)
    with pytest.raises(rowpool.RowError) as in_workers:
        rowpool.apply(df, fail_on_7, in_process=False)
    for error in (in_process.value, in_workers.value):
        assert isinstance(error, KeyError)
        assert error.label == "r7" and error.position == 7
        assert "seven" in str(error)
    assert "fail_on_7" in in_process.value.worker_traceback


@pytest.mark.parametrize("errors", ["coerce", "collect"])
def test_coerce_and_collect_in_process_like_in_workers(errors):
    df = frame()

    def fail_on_odd(row):
        if row["a"] % 2:
            raise ValueError(f"odd {row['a']}")
        return row["a"] * 1.5

    here = rowpool.apply(df, fail_on_odd, errors=errors)
    there = rowpool.apply(df, fail_on_odd, errors=errors, in_process=False)
    if errors == "collect":
        pd.testing.assert_frame_equal(here[1].drop(columns="traceback"), there[1].drop(columns="traceback"))
        here, there = here[0], there[0]
    assert_identical(here, there)


def test_keyboard_interrupt_in_func_propagates_as_itself_even_with_coerce():
    calls = []

    def interrupt_on_3(row):
        calls.append(row.name)
        if row["a"] == 3:
            raise KeyboardInterrupt
        return 1

    with pytest.raises(KeyboardInterrupt) as info:
        rowpool.apply(frame(), interrupt_on_3, errors="coerce")
    assert not isinstance(info.value, rowpool.RowError)
    assert calls[:4] == ["r0", "r1", "r2", "r3"]


def test_unpicklable_func_fails_before_any_row_runs_here_too():
    import threading

    lock = threading.Lock()
    calls = []

    def uses_lock(row):
        calls.append(1)
        with lock:
            return 1

    with pytest.raises(rowpool.SerializationError):
        rowpool.apply(frame(), uses_lock)
    assert calls == []


def test_map_batches_in_process_keeps_chunk_rows_and_results():
    df = frame(23)
    lengths = []

    def sizes(chunk):
        lengths.append(len(chunk))
        return chunk["a"] * 2

    result = rowpool.map_batches(df, sizes, chunk_rows=5)
    assert lengths == [5, 5, 5, 5, 3]
    assert_identical(result, df["a"] * 2)
    per_chunk = rowpool.map_batches(df, len, chunk_rows=10)
    assert per_chunk.tolist() == [10, 10, 3]


def test_map_batches_in_process_cannot_write_into_the_callers_frame():
    df = frame(6)
    before = df.copy()

    def scribble(chunk):
        chunk.iloc[0, 0] = -1
        chunk["a"] = 0
        return len(chunk)

    rowpool.map_batches(df, scribble, chunk_rows=3)
    pd.testing.assert_frame_equal(df, before)


def test_map_batches_failures_in_process_like_in_workers():
    df = frame(9)

    def fail_middle(chunk):
        if chunk["a"].iloc[0] == 3:
            raise ValueError("middle")
        return chunk["b"]

    here, failures = rowpool.map_batches(df, fail_middle, chunk_rows=3, errors="collect")
    there, failures_there = rowpool.map_batches(
        df, fail_middle, chunk_rows=3, errors="collect", in_process=False
    )
    assert_identical(here, there)
    assert failures["exception"].tolist() == failures_there["exception"].tolist() == ["ValueError"]


def test_progress_bar_counts_rows_run_here(capsys):
    rowpool.apply(frame(12), pid_of_row, progress=True)
    assert "12/12" in capsys.readouterr().err


def test_worker_starts_are_measured_and_set_the_budget():
    assert _local.start_seconds() == _local.START_SECONDS
    rowpool.apply(frame(4), pid_of_row, in_process=False)
    assert len(_local._starts) == 1 and 0 < _local._starts[0] < 60
    assert _local.start_seconds() == _local._starts[0]
    with rowpool.Pool(1) as pool:
        pool.apply(frame(4), pid_of_row)  # warm workers: no start to measure
    assert len(_local._starts) == 1
    for seconds in (5.0, 0.1, 0.3, 0.2, 9.0, 0.4):
        _local.record_start(seconds)
    assert _local.start_seconds() == 0.3  # the median of the last five


def test_first_guess_of_a_start_grows_with_the_load(monkeypatch):
    """On a loaded machine the rows measured here are slower, and so would a start be."""
    monkeypatch.setattr(_local, "contention", lambda: 3.0)
    assert _local.start_seconds() == pytest.approx(3 * _local.START_SECONDS)
    _local.record_start(0.5)  # a measured start already includes the load it met
    assert _local.start_seconds() == 0.5


@pytest.mark.parametrize(("workers", "factor"), [(1, 1.0), (2, 2.0), (4, 4 / 3)])
def test_budget_is_what_workers_need_to_finish_sooner_start_included(workers, factor):
    """Rows left costing L here take start + L / workers on the workers: they go there once
    L > start * workers / (workers - 1); one worker is never sooner, so a start is its budget."""
    options = _spec.Options()
    budget = _local.in_process_budget(options, pool_given=False, workers=workers)
    assert budget == pytest.approx(factor * _local.START_SECONDS)
