"""Hostile use (issue 17), with real processes and real signals: Ctrl-C while a job runs in another
thread or while the function's own subprocesses run or ignore SIGTERM, a function that forks.

Scripts run in a fresh interpreter (``run_script``) when the test needs to signal or end the parent.
Every test is bounded (pytest-timeout plus subprocess timeouts): a hang is a failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pandas as pd
import psutil
import pytest

import rowpool
from process_helpers import alive, wait_until

pytestmark = pytest.mark.timeout(120)

# The row functions of the scripts: each worker leaves a file named after its pid in MARKS once it
# runs a row, so the test knows the job is under way and which processes were its workers.
SCRIPT_HEADER = """
import os, signal, subprocess, sys, threading, time
import pandas as pd
import rowpool
MARKS = {marks!r}

def mark():
    path = os.path.join(MARKS, str(os.getpid()))
    if not os.path.exists(path):
        open(path, "w").close()

def slow(row):
    mark()
    time.sleep(0.002)
    return row["a"]

def job(rows=20000, func=slow, workers=2, **options):
    frame = pd.DataFrame({{"a": range(rows)}})
    rowpool.apply(frame, func, workers=workers, in_process=False, **options)

def when_started(action, count=1):
    def watch():
        while len(os.listdir(MARKS)) < count:
            time.sleep(0.01)
        action()
    threading.Thread(target=watch, daemon=True).start()
"""


def run_script(body: str, marks, **popen) -> subprocess.Popen:
    marks.mkdir(exist_ok=True)
    code = SCRIPT_HEADER.format(marks=str(marks)) + textwrap.dedent(body)
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
    )


def finish(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the script did not end within {timeout} s:\n{err[-3000:]}")


def marked_pids(marks) -> list[int]:
    return [int(name) for name in os.listdir(marks)]


def assert_gone(pids, timeout=3.0, what="worker"):
    survivors = lambda: [p for p in pids if alive(p)]  # noqa: E731
    assert wait_until(lambda: not survivors(), timeout), f"{what}s still alive: {survivors()}"


def double(row):
    return row["a"] * 2


# -- 4: a job in a thread other than the main one -------------------------------------------------


def test_ctrl_c_while_apply_runs_in_another_thread_does_not_abort(tmp_path):
    """The main thread waits in join() when Ctrl-C comes; the interpreter then finalizes while the
    job's thread waits in the engine. Re-taking the GIL must not abort the process (SIGABRT,
    "terminate called without an active exception")."""
    marks = tmp_path / "marks"
    proc = run_script(
        """
        worker = threading.Thread(target=job)
        worker.start()
        when_started(lambda: os.kill(os.getpid(), signal.SIGINT))
        worker.join()
        """,
        marks,
    )
    _out, err = finish(proc, 60)
    assert proc.returncode != -signal.SIGABRT and "terminate called" not in err, err[-3000:]
    assert "KeyboardInterrupt" in err, err[-3000:]
    assert_gone(marked_pids(marks))


def test_interpreter_exit_while_a_daemon_thread_runs_apply(tmp_path):
    marks = tmp_path / "marks"
    proc = run_script(
        """
        threading.Thread(target=job, daemon=True).start()
        while not os.listdir(MARKS):
            time.sleep(0.01)
        print("leaving")
        """,
        marks,
    )
    out, err = finish(proc, 60)
    assert proc.returncode == 0 and "terminate called" not in err, (proc.returncode, err[-3000:])
    assert out.strip() == "leaving"
    assert_gone(marked_pids(marks))


# -- 5: what the function started ends with its worker --------------------------------------------


def sleepers(tag: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if process.info["cmdline"] == ["sleep", tag]:
            found.append(process)
    return found


def test_ctrl_c_to_the_process_group_ends_the_functions_subprocesses(tmp_path):
    """As a terminal's Ctrl-C does: SIGINT to the foreground process group (here: the script's
    session). The function's subprocesses must end with the job, as they do under serial pandas."""
    tag = f"{300 + os.getpid() % 1000 / 1000:.3f}"  # a sleep duration no other test uses
    marks = tmp_path / "marks"
    proc = run_script(
        f"""
        def spawning(row):
            mark()
            if row["a"] % 50 == 0:
                subprocess.Popen(["sleep", {tag!r}])
            time.sleep(0.002)
            return row["a"]

        job(func=spawning)
        """,
        marks,
        start_new_session=True,
    )
    try:
        assert wait_until(lambda: len(sleepers(tag)) >= 4 or proc.poll() is not None, 60)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        os.killpg(proc.pid, signal.SIGINT)
        _out, err = finish(proc, 30)
        assert "KeyboardInterrupt" in err, err[-3000:]
        assert_gone(marked_pids(marks))
        left = lambda: [p.pid for p in sleepers(tag)]  # noqa: E731
        assert wait_until(lambda: not left(), 3), f"the function's subprocesses survived: {left()}"
    finally:
        for process in sleepers(tag):
            process.kill()  # started (indirectly) by this test: ours to end
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_worker_stopped_past_its_timeout_takes_its_subprocesses_along(tmp_path):
    tag = f"{301 + os.getpid() % 1000 / 1000:.3f}"

    def stuck(row):
        if row["a"] == 3:
            subprocess.Popen(["sleep", tag])
            time.sleep(60)
        return row["a"]

    df = pd.DataFrame({"a": np.arange(8)})
    try:
        result = rowpool.apply(df, stuck, workers=2, timeout=1, errors="coerce")
        assert result.isna().tolist() == [i == 3 for i in range(8)]
        left = lambda: [p.pid for p in sleepers(tag)]  # noqa: E731
        assert wait_until(lambda: not left(), 3), f"the stopped worker's subprocess survived: {left()}"
    finally:
        for process in sleepers(tag):
            process.kill()


# -- 6: workers that ignore SIGTERM -----------------------------------------------------------------


def test_ctrl_c_stops_many_workers_ignoring_sigterm_within_a_second(tmp_path):
    workers = 12
    marks = tmp_path / "marks"
    proc = run_script(
        f"""
        def stubborn(row):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            mark()
            time.sleep(0.01)
            return row["a"]

        job(rows=200000, func=stubborn, workers={workers}, chunk_rows=5)
        """,
        marks,
    )
    try:
        assert wait_until(lambda: len(os.listdir(marks)) >= workers or proc.poll() is not None, 90)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _out, err = finish(proc, 30)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "KeyboardInterrupt" in err, err[-3000:]
    assert elapsed < 1.0, f"took {elapsed:.2f} s to stop {workers} workers ignoring SIGTERM"
    assert_gone(marked_pids(marks), timeout=1)


# -- 9: a function that forks -------------------------------------------------------------------------


def forks_at_7(row):
    if row["a"] == 7:
        os.fork()  # the child returns from the function too
    return row["a"] * 2


def forks_in_batch(chunk):
    if 7 in chunk["a"].values:
        os.fork()
    return chunk["a"] * 2


@pytest.mark.parametrize("chunk_rows", [None, 3])
def test_a_forked_child_returning_from_the_function_never_speaks_for_the_worker(chunk_rows):
    df = pd.DataFrame({"a": np.arange(200)})
    for _ in range(3):
        result = rowpool.apply(df, forks_at_7, workers=2, chunk_rows=chunk_rows)
        pd.testing.assert_series_equal(result, (df["a"] * 2).rename(None))  # pandas would fork here


def test_a_forked_child_returning_from_a_batch_never_speaks_for_the_worker():
    df = pd.DataFrame({"a": np.arange(200)})
    for _ in range(3):
        result = rowpool.map_batches(df, forks_in_batch, workers=2, chunk_rows=5)
        pd.testing.assert_series_equal(result, df["a"] * 2)


# -- 7: timeouts too long for the engine's waits ----------------------------------------------------


@pytest.mark.parametrize("timeout", [float("inf"), 30 * 86400.0, 10**12])
def test_an_endless_or_huge_timeout_means_no_limit(timeout):
    df = pd.DataFrame({"a": np.arange(40)})
    result = rowpool.apply(df, double, workers=2, timeout=timeout)
    pd.testing.assert_series_equal(result, df.apply(double, axis=1))


# -- 8: one Pool, two threads ---------------------------------------------------------------------------


def test_one_pool_used_from_two_threads_at_once_runs_both_jobs(pool):
    df = pd.DataFrame({"a": np.arange(20000)})
    expected = df.apply(double, axis=1)

    def run(results, errors, slot):
        try:
            results[slot] = pool.apply(df, double)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    for _ in range(3):
        results, errors = [None, None], []
        threads = [threading.Thread(target=run, args=(results, errors, slot)) for slot in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads), "a job never finished"
        assert not errors, errors
        for result in results:
            pd.testing.assert_series_equal(result, expected)


# -- 10: absurd worker counts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda n: rowpool.Pool(n),
        lambda n: rowpool.apply(pd.DataFrame({"a": [1, 2]}), double, workers=n),
        lambda n: rowpool.map_batches(pd.DataFrame({"a": [1, 2]}), len, workers=n),
    ],
    ids=["Pool", "apply", "map_batches"],
)
def test_more_workers_than_the_machine_can_hold_is_refused_before_any_starts(make):
    children = psutil.Process().children()
    with pytest.raises(ValueError, match="workers"):
        make(10**6)
    assert psutil.Process().children() == children


# -- 11: Ctrl-C while a temporary pool starts its workers -----------------------------------------------


def test_ctrl_c_while_a_temporary_pool_spawns_leaves_no_worker_while_the_exception_lives(monkeypatch):
    from rowpool import _core, _workers

    spawned = []
    engine_supervisor = _core.Supervisor

    class InterruptedSupervisor:
        """The engine's Supervisor, interrupted (as by Ctrl-C) after it spawned two workers."""

        def __init__(self):
            self.real = engine_supervisor()

        def spawn(self, argv, fds):
            if len(spawned) == 2:
                raise KeyboardInterrupt
            spawned.append(self.real.pid(worker := self.real.spawn(argv, fds)))
            return worker

        def __getattr__(self, name):
            return getattr(self.real, name)

        def __len__(self):
            return len(self.real)

    monkeypatch.setattr(_workers._core, "Supervisor", InterruptedSupervisor)
    with pytest.raises(KeyboardInterrupt) as kept:  # the exception (and its frames) stay alive
        rowpool.apply(pd.DataFrame({"a": np.arange(100)}), double, workers=4, in_process=False)
    assert kept.value is not None and len(spawned) == 2
    assert_gone(spawned, timeout=0.5)


# -- 12: cleanup must not lose a finished result --------------------------------------------------------


def test_no_thread_to_spare_for_cleanup_still_returns_the_result(monkeypatch):
    """Under an address-space limit (``prlimit --as``) the job finished, then starting the thread
    that reaps a temporary pool's workers failed and lost the result."""
    import threading as threading_module

    def no_thread(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading_module.Thread, "start", no_thread)
    df = pd.DataFrame({"a": np.arange(2000)})
    result = rowpool.apply(df, double, workers=2, in_process=False)
    pd.testing.assert_series_equal(result, df.apply(double, axis=1))


# -- 13: small things -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["x", 3, object()])
def test_pool_must_be_a_pool(value):
    with pytest.raises(TypeError, match="pool"):
        rowpool.apply(pd.DataFrame({"a": [1, 2]}), double, pool=value)


@pytest.mark.parametrize("arguments", [["--rows", "-5"], ["--rows", "0"], ["--workers", "0"]])
def test_demo_refuses_bad_numbers_with_a_usage_message(arguments):
    proc = subprocess.run(
        [sys.executable, "-m", "rowpool", "demo", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc
    assert "usage:" in proc.stderr and arguments[0] in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_max_worker_memory_leaves_room_for_the_worker_itself():
    """A worker that imports pandas and pyarrow holds about 110 MB before its first row: a limit
    below what a worker needs would blame an innocent row."""
    with pytest.raises(ValueError, match="max_worker_memory") as info:
        rowpool.Pool(2, max_worker_memory=40 << 20)
    assert "worker itself" in str(info.value)


@pytest.mark.parametrize("call", ["map_batches", "apply"])
def test_a_forked_child_returning_in_the_calling_process_ends_there(tmp_path, call):
    """With rows run in the calling process (in_process=True), a fork's child returning from func
    ends at once, as in a worker: it never runs the caller's program on (here: prints twice)."""
    script = tmp_path / "forks.py"
    script.write_text(
        "import os, sys\n"
        "import numpy as np, pandas as pd, rowpool\n"
        "def batch(chunk):\n"
        "    if 7 in chunk['a'].values:\n"
        "        os.fork()\n"
        "    return chunk['a'] * 2\n"
        "def row(r):\n"
        "    if r['a'] == 7:\n"
        "        os.fork()\n"
        "    return r['a'] * 2\n"
        "df = pd.DataFrame({'a': np.arange(50)})\n"
        f"result = rowpool.{call}(df, batch if '{call}' == 'map_batches' else row, chunk_rows=5,"
        " in_process=True)\n"
        "assert result.tolist() == (df['a'] * 2).tolist()\n"
        "print('done', flush=True)\n"
    )
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["done"]
