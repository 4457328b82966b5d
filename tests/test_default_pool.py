"""The default pool: ``rowpool.apply`` / ``map_batches`` without ``pool=`` reuse warm workers, resize
them, replace them when broken, end them after an idle timeout, on ``rowpool.shutdown()`` and at
interpreter exit. (conftest shuts the default pool down after every test.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pandas as pd
import pytest

import rowpool
from process_helpers import alive, wait_until
from rowpool import _default_pool, _local

FRAME = pd.DataFrame({"a": range(40)})


def worker_pid(row):
    return os.getpid()


def slow_pid(row):
    time.sleep(0.2)
    return os.getpid()


def run_pids(workers: int = 2, df: pd.DataFrame = FRAME, func=worker_pid) -> set[int]:
    """The pids of the processes that ran the rows, all of them workers (never this process)."""
    pids = set(rowpool.apply(df, func, workers=workers, in_process=False, chunk_rows=1))
    assert os.getpid() not in pids
    return pids


def default_pids() -> set[int]:
    pool = _default_pool.current()
    assert pool is not None
    return set(pool.pids())


@pytest.fixture
def idle_timeout(monkeypatch):
    """Sets the idle timeout for one test (restored afterwards)."""
    monkeypatch.setattr(_default_pool, "_idle_timeout", None)
    return rowpool.set_idle_timeout


def test_calls_without_pool_reuse_the_same_workers():
    first = run_pids()
    workers = default_pids()
    assert first <= workers and len(workers) == 2
    assert run_pids() <= workers
    assert (
        rowpool.map_batches(FRAME, lambda chunk: [os.getpid()] * len(chunk), workers=2, chunk_rows=5)
        .isin(workers)
        .all()
    )
    assert default_pids() == workers


def test_another_number_of_workers_resizes_the_pool_and_keeps_warm_ones():
    run_pids(workers=2)
    two = default_pids()
    run_pids(workers=1)
    one = default_pids()
    assert len(one) == 1 and one <= two
    assert wait_until(lambda: sum(map(alive, two)) == 1, 10)
    run_pids(workers=2)
    again = default_pids()
    assert len(again) == 2 and one <= again


def test_a_worker_killed_while_idle_is_replaced_by_the_next_call():
    run_pids()
    killed, kept = sorted(default_pids())
    os.kill(killed, signal.SIGKILL)
    assert wait_until(lambda: not alive(killed), 10)
    result = rowpool.apply(FRAME, lambda row: row["a"] * 2, workers=2, in_process=False)
    assert result.tolist() == [a * 2 for a in range(40)]
    now = default_pids()
    assert kept in now and killed not in now and len(now) == 2


def test_a_job_that_breaks_the_pool_replaces_it(monkeypatch):
    run_pids()
    before = _default_pool.current()
    old = default_pids()

    def die_on_seven(row):
        if row["a"] == 7:
            os._exit(3)
        return row["a"]

    with pytest.raises(rowpool.WorkerLost):
        rowpool.apply(FRAME, die_on_seven, workers=2, in_process=False, retries=0)
    assert _default_pool.current() is None and before.closed
    assert wait_until(lambda: not any(map(alive, old)), 10)
    assert run_pids() <= default_pids()
    assert not default_pids() & old


def test_workers_exit_after_the_idle_timeout(idle_timeout):
    idle_timeout(0.5)
    run_pids()
    pids = default_pids()
    assert all(map(alive, pids))
    assert wait_until(lambda: not any(map(alive, pids)), 15)
    assert _default_pool.current() is None
    assert run_pids() - pids  # the next call starts fresh workers


def test_a_job_restarts_the_idle_countdown(idle_timeout):
    idle_timeout(1.5)
    run_pids()
    pids = default_pids()
    for _ in range(3):  # each call comes before the countdown ends: the same workers serve all
        time.sleep(0.75)
        assert run_pids() <= pids
    assert wait_until(lambda: not any(map(alive, pids)), 15)


def test_idle_timeout_zero_ends_workers_after_every_call(idle_timeout):
    idle_timeout(0)
    first = run_pids()
    assert _default_pool.current() is None
    assert wait_until(lambda: not any(map(alive, first)), 10)
    assert not run_pids() & first


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), (float("nan"), ValueError), ("5", TypeError), (True, TypeError)]
)
def test_a_bad_idle_timeout_is_refused(idle_timeout, value, error):
    with pytest.raises(error, match="idle timeout"):
        idle_timeout(value)


def test_the_environment_sets_the_idle_timeout(monkeypatch):
    monkeypatch.setattr(_default_pool, "_idle_timeout", None)
    monkeypatch.setenv("ROWPOOL_IDLE_TIMEOUT", "12.5")
    assert _default_pool.idle_timeout() == 12.5
    monkeypatch.delenv("ROWPOOL_IDLE_TIMEOUT")
    assert _default_pool.idle_timeout() == _default_pool.DEFAULT_IDLE_TIMEOUT
    monkeypatch.setenv("ROWPOOL_IDLE_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="ROWPOOL_IDLE_TIMEOUT"):
        run_pids()
    assert _default_pool.current() is None  # refused before any worker started


def test_shutdown_ends_the_workers_and_the_next_call_starts_fresh_ones():
    run_pids()
    pids = default_pids()
    rowpool.shutdown()
    assert _default_pool.current() is None
    assert not any(map(alive, pids))
    rowpool.shutdown()  # twice is fine
    assert not run_pids() & pids


def test_a_job_of_another_thread_runs_beside_the_default_pools():
    busy: dict[str, set[int]] = {}
    thread = threading.Thread(target=lambda: busy.update(pids=run_pids(df=FRAME.head(6), func=slow_pid)))
    thread.start()
    try:
        assert wait_until(lambda: _default_pool._busy, 30)
        other = run_pids(df=FRAME.head(4))  # on a temporary pool, at the same time
    finally:
        thread.join(60)
    assert busy["pids"] <= default_pids()
    assert not other & busy["pids"]


def test_a_forked_child_leaves_the_parents_workers_alone():
    run_pids()
    pids = default_pids()
    child = os.fork()
    if child == 0:  # the child dropped its copy of the pool when it forked (_forget_in_child)
        os._exit(0 if _default_pool.current() is None else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert all(map(alive, pids))
    assert run_pids() <= pids


@pytest.mark.tiny_jobs_in_process
def test_warm_and_cold_starts_are_measured_apart():
    run_pids()
    assert len(_local._starts) == 1 and not _local._warm_starts
    assert _local.start_seconds(warm=True) == _local.WARM_START_SECONDS
    run_pids()
    assert len(_local._starts) == 1 and len(_local._warm_starts) == 1
    assert _local.start_seconds(warm=True) == _local._warm_starts[0] < 60


@pytest.mark.tiny_jobs_in_process
def test_a_tiny_job_runs_here_even_with_warm_workers():
    run_pids()
    assert set(rowpool.apply(FRAME.head(3), worker_pid, workers=2)) == {os.getpid()}


def test_the_workers_end_at_interpreter_exit():
    # The check is registered before rowpool is imported, so it runs after rowpool's own exit
    # handler (atexit runs last-registered first): the workers are gone before the interpreter
    # is (not only killed afterwards by their watch on the parent).
    script = textwrap.dedent(
        """
        import atexit, os

        def report():
            pids = _default_pool._exited_pids
            print("gone" if not any(os.path.exists(f"/proc/{p}/status") and
                  "zombie" not in open(f"/proc/{p}/status").read() for p in pids) else "alive",
                  flush=True)

        atexit.register(report)
        import pandas as pd, rowpool
        from rowpool import _default_pool
        rowpool.apply(pd.DataFrame({"a": range(20)}), lambda r: 1, workers=2, in_process=False)
        _default_pool._exited_pids = _default_pool.current().pids()
        print(" ".join(map(str, _default_pool._exited_pids)), flush=True)
        """
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 60  # the idle timer (300 s) does not hold the exit
    pids_line, verdict = done.stdout.split("\n")[:2]
    pids = [int(p) for p in pids_line.split()]
    assert len(pids) == 2 and verdict == "gone"
    assert wait_until(lambda: not any(map(alive, pids)), 10)


def sleepy_pid(row):
    time.sleep(0.01)
    return os.getpid()


@pytest.mark.tiny_jobs_in_process
def test_a_job_longer_than_the_warm_budget_goes_to_the_warm_workers():
    run_pids()
    workers = default_pids()
    pids = set(rowpool.apply(FRAME, sleepy_pid, workers=2))  # 0.4 s of serial work
    assert pids & workers
    assert default_pids() == workers
