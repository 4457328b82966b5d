"""Rows the calling process runs while a cold default pool's workers start
(``Dispatcher.bridge_piece``): every row still runs once, and results, failures, groups and batch
sizes are those of a job whose rows all ran in workers."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

import rowpool
from rowpool import _local
from test_dtypes import assert_identical

pytestmark = [pytest.mark.timeout(120), pytest.mark.tiny_jobs_in_process]


@pytest.fixture(autouse=True)
def cold_default_pool(monkeypatch):
    """A first guess of 20 ms per start (a budget of 40 ms with 2 workers): after the probe rows
    the job goes to workers, and the default pool is started cold."""
    monkeypatch.setattr(_local, "START_SECONDS", 0.02)
    rowpool.shutdown()


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"a": np.arange(n, dtype=np.int64), "v": np.arange(n) * 0.5, "g": np.arange(n) % 37},
        index=[f"r{i}" for i in range(n)],
    )


def spin(seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pass


def logged(path, inner, name=lambda arg: arg.name):
    """``inner`` that also appends its argument's name and its process id to ``path``."""

    def func(arg):
        with open(path, "a") as log:
            log.write(f"{name(arg)} {os.getpid()}\n")
        return inner(arg)

    return func


def calls(path) -> list[tuple[str, bool]]:
    """Every logged call: (name, whether it ran in this process)."""
    lines = (line.split() for line in path.read_text().splitlines())
    return [(name, int(pid) == os.getpid()) for name, pid in lines]


def ran_here_after_workers(positions: list[tuple[int, bool]]) -> bool:
    """Whether this process ran a row past one a worker ran: rows run while the workers started
    (without that, the rows run here are the job's first ones only)."""
    here = [p for p, local in positions if local]
    there = [p for p, local in positions if not local]
    return bool(here) and bool(there) and max(here) > min(there)


def slow_row(row):
    spin(0.001)
    return row["a"] * 3 + row["v"]


def test_rows_run_here_while_workers_start_once_each(tmp_path):
    df = frame(1500)
    log = tmp_path / "calls"
    result = rowpool.apply(df, logged(log, slow_row), workers=2)
    assert_identical(result, df.apply(slow_row, axis=1))
    done = calls(log)
    assert sorted(name for name, _ in done) == sorted(df.index)  # once per row
    assert ran_here_after_workers([(int(name[1:]), here) for name, here in done])


def test_warm_workers_take_the_rest_at_once(tmp_path):
    df = frame(1500)
    rowpool.apply(df, slow_row, workers=2)  # starts the default pool
    log = tmp_path / "calls"
    result = rowpool.apply(df, logged(log, slow_row), workers=2)
    assert_identical(result, df.apply(slow_row, axis=1))
    done = calls(log)
    assert sorted(name for name, _ in done) == sorted(df.index)
    assert not ran_here_after_workers([(int(name[1:]), here) for name, here in done])


def failing_from_700(row):
    spin(0.001)
    if row["a"] >= 700:
        raise ValueError(f"row {row['a']}")
    return row["a"]


def test_earliest_failure_across_rows_run_here_and_in_workers():
    with pytest.raises(rowpool.RowError) as info:
        rowpool.apply(frame(1500), failing_from_700, workers=2)
    assert info.value.label == "r700"
    rowpool.shutdown()
    result, failures = rowpool.apply(frame(1500), failing_from_700, workers=2, errors="collect")
    assert list(failures.index) == [f"r{i}" for i in range(700, 1500)]
    assert result.iloc[:700].tolist() == list(range(700)) and result.iloc[700:].isna().all()


def slow_group(group):
    spin(0.001 * len(group))
    return group["v"].sum() + len(group)


def test_groups_run_here_while_workers_start_give_pandas_result(tmp_path):
    df = frame(1500)
    log = tmp_path / "calls"
    result = rowpool.groupby_apply(df, "g", logged(log, slow_group), workers=2, include_groups=False)
    pd.testing.assert_series_equal(result, df.groupby("g").apply(slow_group, include_groups=False))
    done = calls(log)
    assert sorted(int(name) for name, _ in done) == list(range(37))  # once per group
    assert any(here for _, here in done) and not all(here for _, here in done)


def test_batches_run_here_while_workers_start_keep_chunk_rows(tmp_path):
    df = frame(1500)
    log = tmp_path / "calls"

    def sizes(batch):
        spin(0.02)
        return batch["a"] * 0 + len(batch)

    by_first_row = logged(log, sizes, name=lambda batch: batch["a"].iloc[0])
    result = rowpool.map_batches(df, by_first_row, chunk_rows=50, workers=2)
    assert (result == 50).all() and list(result.index) == list(df.index)
    done = calls(log)
    assert sorted(int(first) for first, _ in done) == list(range(0, 1500, 50))
    assert ran_here_after_workers([(int(first), here) for first, here in done])
