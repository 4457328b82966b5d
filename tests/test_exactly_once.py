"""Exactly once, even when a worker dies (issue 17): the results of finished rows survive their worker
in the arena, so ``func`` runs once for every row that did not kill its worker; workers killed from
outside while no row runs (an OOM killer during a burst) blame nothing; the earliest failing row is
the one reported.

Side effects are counted per row: each call appends ``"<label> <pid>\\n"`` to one file opened
O_APPEND (one small write: atomic), so the rows that were running when a worker was killed are
known (the last line that worker wrote).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import rowpool

pytestmark = pytest.mark.timeout(120)


def logging_row(path, sleep=0.0, crash_at=None):
    """``row["a"] * 2``, logging each call; ``crash_at``: labels whose row kills its worker."""

    def func(row):
        import os as _os
        import time as _time

        fd = _os.open(path, _os.O_WRONLY | _os.O_APPEND | _os.O_CREAT)
        _os.write(fd, f"{row.name} {_os.getpid()}\n".encode())
        _os.close(fd)
        if crash_at is not None and row.name in crash_at:
            _os._exit(7)
        if sleep:
            _time.sleep(sleep)
        return row["a"] * 2

    return func


def read_log(path) -> list[tuple[int, int]]:
    if not os.path.exists(path):
        return []
    with open(path) as log:
        return [tuple(map(int, line.split())) for line in log]


def running_when_killed(log, killed: set[int]) -> Counter:
    """How often each row was the last one a killed worker started (it may have been running)."""
    last = {}
    for label, pid in log:
        last[pid] = label
    return Counter(label for pid, label in last.items() if pid in killed)


def kill_randomly(pool, stop: threading.Event, killed: set, seed: int, pause=(0.3, 0.9)):
    rng = random.Random(seed)
    while not stop.wait(rng.uniform(*pause)):
        pids = pool.pids()
        if pids:
            victim = rng.choice(pids)
            try:
                os.kill(victim, signal.SIGKILL)
                killed.add(victim)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sigkills_run_every_surviving_row_exactly_once(pool, tmp_path, seed):
    df = pd.DataFrame({"a": np.arange(1000, dtype=np.int64)})
    path = str(tmp_path / "calls")
    stop, killed = threading.Event(), set()
    killer = threading.Thread(target=kill_randomly, args=(pool, stop, killed, seed), daemon=True)
    killer.start()
    try:
        result = pool.apply(df, logging_row(path, sleep=0.003), retries=10)
    finally:
        stop.set()
        killer.join(5)
    pd.testing.assert_series_equal(result, df["a"] * 2, check_names=False)
    log = read_log(path)
    counts = Counter(label for label, _pid in log)
    suspects = running_when_killed(log, killed)
    assert killed, "the killer never struck: the job ran too fast to test anything"
    for label in df.index:
        # once, plus once more for each time it was running when its worker was killed
        assert 1 <= counts[label] <= 1 + suspects[label], (label, counts[label], suspects[label])
    assert sum(counts.values()) <= len(df) + len(killed)


def test_rows_finished_before_a_crash_never_run_again(pool, tmp_path):
    """Chunks of 50 rows, row 37 kills its worker every time: rows 0..36 (finished in the dead
    workers' chunk) ran once, row 37 three times (1 + retries), every other row once."""
    df = pd.DataFrame({"a": np.arange(120, dtype=np.int64)})
    path = str(tmp_path / "calls")
    result, failures = pool.apply(df, logging_row(path, crash_at={37}), chunk_rows=50, errors="collect")
    assert list(failures.index) == [37]
    assert np.isnan(result[37])
    pd.testing.assert_series_equal(result.drop(37), (df["a"] * 2).drop(37).astype(float), check_names=False)
    counts = Counter(label for label, _pid in read_log(path))
    assert counts == {label: 3 if label == 37 else 1 for label in df.index}


def test_when_every_row_kills_its_worker_the_first_row_is_reported(pool):
    df = pd.DataFrame({"a": np.arange(16, dtype=np.int64)})
    with pytest.raises(rowpool.WorkerLost) as caught:
        pool.apply(df, lambda r: os._exit(3))
    assert caught.value.rows == [0], str(caught.value)
    assert "row 0 " in str(caught.value)


def test_the_earliest_failing_row_is_reported_though_a_later_one_failed_first(pool, tmp_path):
    """Row 3 is slow and then raises; row 40 raises at once. pandas raises for row 3."""

    def func(row):
        import time as _time

        if row["a"] == 3:
            _time.sleep(1.0)
            raise KeyError("three")
        if row["a"] == 40:
            raise ValueError("forty")
        return row["a"]

    df = pd.DataFrame({"a": np.arange(200, dtype=np.int64)})
    with pytest.raises(KeyError) as caught:
        pool.apply(df, func, chunk_rows=5)
    assert caught.value.label == 3


def burst_killer(pool, seconds: float, killed: list):
    """Issue 17 #3: kills every worker of ``pool`` every 10 ms for ``seconds`` (an OOM killer
    during a burst), including workers still starting or loading the job."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for pid in pool.pids():
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


@pytest.mark.parametrize("call", ["apply", "map_batches"])
def test_a_burst_of_kills_while_workers_start_blames_nothing(call):
    df = pd.DataFrame({"a": np.arange(1000, dtype=np.int64)})
    killed: list = []
    with rowpool.Pool(2) as pool:
        killer = threading.Thread(target=burst_killer, args=(pool, 0.5, killed), daemon=True)
        killer.start()
        if call == "apply":
            result = pool.apply(df, lambda r: r["a"])
            expected = df["a"]
        else:
            result = pool.map_batches(df, lambda c: c["a"] + 1, chunk_rows=100)
            expected = df["a"] + 1
        killer.join(5)
        assert len(killed) >= 4, killed
        pd.testing.assert_series_equal(result, expected, check_names=False)
        assert len(pool.pids()) == 2


def test_a_function_whose_unpickling_kills_workers_still_fails_the_job(pool):
    """Deaths while loading that are not kills from outside stay evidence: the job fails after
    1 + retries of them instead of respawning workers forever."""

    class DiesWhenUnpickled:
        def __reduce__(self):
            return (os._exit, (5,))

    df = pd.DataFrame({"a": np.arange(4, dtype=np.int64)})
    started = time.monotonic()
    with pytest.raises(rowpool.WorkerLost, match="cannot be loaded"):
        pool.apply(df, lambda r, m: r["a"], args=(DiesWhenUnpickled(),))
    assert time.monotonic() - started < 30
