"""Soak (issue 17): many jobs on one Pool with random worker kills, random row errors, poison rows
and random timeouts. After every job: the result equals pandas', every row ran exactly once unless
it was running when its worker died (a poison row: 1 + retries times), and the parent's fds and
threads and its child processes are back to what they were.

``ROWPOOL_SOAK_JOBS`` sets the number of jobs (default 40: a minute or two);
``python bench/soak.py`` runs the full 1,000 and records the count run.
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
import psutil
import pytest

import rowpool

JOBS = int(os.environ.get("ROWPOOL_SOAK_JOBS", "40"))
SEED = int(os.environ.get("ROWPOOL_SOAK_SEED", "17"))
KINDS = ("clean", "errors", "kill", "timeout", "poison", "batches")
WEIGHTS = (2, 3, 3, 1, 1, 1)


def soak_row(path, raise_at=(), crash_at=(), hang_at=(), sleep=0.0):
    """``row["a"] * 2``, logging ``"<label> <pid>"`` per call (one O_APPEND write: atomic)."""
    raise_at, crash_at, hang_at = frozenset(raise_at), frozenset(crash_at), frozenset(hang_at)

    def func(row):
        import os as _os
        import time as _time

        fd = _os.open(path, _os.O_WRONLY | _os.O_APPEND | _os.O_CREAT)
        _os.write(fd, f"{row.name} {_os.getpid()}\n".encode())
        _os.close(fd)
        if row.name in raise_at:
            raise ValueError(f"row {row.name}")
        if row.name in crash_at:
            _os._exit(9)
        if row.name in hang_at:
            _time.sleep(60)
        if sleep:
            _time.sleep(sleep)
        return row["a"] * 2

    return func


def call_log(path) -> list[tuple[int, int]]:
    if not os.path.exists(path):
        return []
    with open(path) as log:
        return [tuple(map(int, line.split())) for line in log]


def extra_runs_allowed(log, killed: set[int]) -> Counter:
    """Rows that were the last one a killed worker started: they may have run once more."""
    last = {pid: label for label, pid in log}
    return Counter(label for pid, label in last.items() if pid in killed)


def kill_one_later(pool, delay: float, killed: set) -> threading.Thread:
    def kill():
        time.sleep(delay)
        pids = pool.pids()
        if pids:
            victim = random.Random(delay).choice(pids)
            try:
                os.kill(victim, signal.SIGKILL)
                killed.add(victim)
            except ProcessLookupError:
                pass

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def run_job(pool, rng: random.Random, path: str) -> str:
    """One random job, checked; returns its kind."""
    rows = rng.randint(20, 400)
    df = pd.DataFrame({"a": np.arange(rows, dtype=np.int64)})
    expected = (df["a"] * 2).astype(float)
    kind = rng.choices(KINDS, WEIGHTS)[0]
    killed: set[int] = set()
    allowed = Counter()  # calls per label beyond the first that the job may make
    if kind == "errors":
        bad = sorted(rng.sample(range(rows), rng.randint(1, 3)))
        errors = rng.choice(["raise", "coerce", "collect"])
        func = soak_row(path, raise_at=bad)
        if errors == "raise":
            with pytest.raises(ValueError) as caught:
                pool.apply(df, func)
            assert caught.value.label == bad[0]  # the earliest failing row, as pandas
            counts = Counter(label for label, _ in call_log(path))
            assert all(counts[label] == 1 for label in range(bad[0] + 1)), counts
            assert max(counts.values()) == 1
            return kind
        out = pool.apply(df, func, errors=errors)
        result, failures = out if errors == "collect" else (out, None)
        expected[bad] = np.nan
        if failures is not None:
            assert list(failures.index) == bad
    elif kind == "timeout":
        hang = rng.randrange(rows)
        result = pool.apply(df, soak_row(path, hang_at=[hang]), timeout=0.5, errors="coerce")
        expected[hang] = np.nan
        allowed[hang] = 1  # in its chunk, then alone
    elif kind == "poison":
        poison = rng.randrange(rows)
        result, failures = pool.apply(df, soak_row(path, crash_at=[poison]), errors="collect")
        assert list(failures.index) == [poison]
        assert failures.loc[poison, "exception"] == "rowpool.WorkerLost"
        expected[poison] = np.nan
        allowed[poison] = 2  # 1 + retries
    elif kind == "batches":
        killer = kill_one_later(pool, rng.uniform(0, 0.2), killed) if rng.random() < 0.5 else None
        result = pool.map_batches(df, lambda c: c["a"] * 2.0, chunk_rows=rng.randint(5, 80))
        if killer is not None:
            killer.join(5)
        pd.testing.assert_series_equal(result, expected, check_names=False)
        return kind
    else:
        killer = kill_one_later(pool, rng.uniform(0, 0.3), killed) if kind == "kill" else None
        result = pool.apply(df, soak_row(path, sleep=0.001))
        if killer is not None:
            killer.join(5)
    pd.testing.assert_series_equal(result.astype(float), expected, check_names=False)
    log = call_log(path)
    counts = Counter(label for label, _ in log)
    allowed += extra_runs_allowed(log, killed)
    for label in range(rows):
        assert 1 <= counts[label] <= 1 + allowed[label], (kind, label, counts[label], allowed[label])
        if kind == "poison" and label in allowed:
            assert counts[label] >= 3
    return kind


def settled(check, seconds: float = 3.0) -> bool:
    """Whether ``check()`` holds within ``seconds`` (replaced workers take a moment to be reaped)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.timeout(max(300, JOBS * 2))
def test_soak_random_kills_errors_and_timeouts(tmp_path):
    rng = random.Random(SEED)
    me = psutil.Process()
    kinds = Counter()
    with rowpool.Pool(2) as pool:
        pool.apply(pd.DataFrame({"a": [1, 2]}), lambda r: r["a"])  # warm
        fds = len(os.listdir("/proc/self/fd"))
        threads = threading.active_count()
        for job in range(JOBS):
            kinds[run_job(pool, rng, str(tmp_path / f"calls{job}"))] += 1
            assert settled(lambda: len(os.listdir("/proc/self/fd")) == fds), (job, "fds")
            assert settled(lambda: threading.active_count() == threads), (job, "threads")
            assert settled(lambda: len(me.children(recursive=True)) == 2), (job, "processes")
            assert len(pool.pids()) == 2
    assert sum(kinds.values()) == JOBS
    print(f"soak: {JOBS} jobs, seed {SEED}: {dict(kinds)}")
