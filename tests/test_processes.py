"""Worker processes under faults, with real processes and signals: deaths, Ctrl-C, parent death,
inherited fds, shared memory, warm reuse, and a soak for fd/process leaks."""

from __future__ import annotations

import os
import select
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

pytestmark = pytest.mark.timeout(90)

WORKER_MARK = "rowpool._worker"


def frame(n=40):
    return pd.DataFrame({"a": np.arange(n, dtype=np.int64), "b": np.arange(n) * 0.5})


def double(row):
    return row["a"] * 2


def assert_pool_works(pool, n=30):
    df = frame(n)
    pd.testing.assert_series_equal(pool.apply(df, double), df.apply(double, axis=1))


def worker_children(pool) -> list[int]:
    """Worker pids of ``pool`` as seen from outside: children of this process running the worker."""
    pids = set(pool.pids())
    found = []
    for child in psutil.Process().children():
        try:
            if child.pid in pids and WORKER_MARK in " ".join(child.cmdline()):
                found.append(child.pid)
        except psutil.Error:
            pass
    return sorted(found)


def workers_of(parent_pid: int) -> list[int]:
    """Pids of rowpool worker processes whose parent is ``parent_pid`` (scanning /proc)."""
    found = []
    for proc in psutil.process_iter(["pid", "ppid", "cmdline"]):
        info = proc.info
        if info["ppid"] == parent_pid and WORKER_MARK in " ".join(info["cmdline"] or []):
            found.append(info["pid"])
    return sorted(found)


def kill_when_started(pids_source, marker, sig=signal.SIGKILL, timeout=20):
    """A thread that, once ``marker`` exists (a row started), kills one worker; returns (thread,
    box) with the killed pid in box['pid']."""
    box = {}

    def run():
        if wait_until(lambda: os.path.exists(marker), timeout):
            time.sleep(0.1)
            pid = pids_source()[0]
            box["pid"] = pid
            box["time"] = time.monotonic()
            os.kill(pid, sig)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


# -- a worker dies mid-job ------------------------------------------------------------------------


def _slow_marking(marker):
    def slow(row):
        open(marker, "a").close()
        time.sleep(0.1)
        return row["a"]

    return slow


def test_sigkill_worker_mid_job_without_retries_raises_worker_lost(pool, tmp_path):
    marker = str(tmp_path / "started")
    assert_pool_works(pool)
    before = worker_children(pool)
    assert len(before) == 2
    thread, box = kill_when_started(lambda: worker_children(pool), marker)
    with pytest.raises(rowpool.WorkerLost) as info:
        pool.apply(frame(200), _slow_marking(marker), chunk_rows=1, retries=0)
    raised_at = time.monotonic()
    thread.join(5)
    error = info.value
    assert isinstance(error, RuntimeError)
    assert raised_at - box["time"] < 3.0, "WorkerLost must come within seconds of the death"
    assert "SIGKILL" in str(error)
    assert error.signal == signal.SIGKILL
    assert error.exit_code is None
    assert error.pid == box["pid"]
    assert error.rows and all(0 <= r < 200 for r in error.rows)
    assert not alive(box["pid"])
    assert_pool_works(pool)
    after = worker_children(pool)
    assert len(after) == 2 and box["pid"] not in after


def test_sigkill_worker_mid_job_is_recovered_by_default(pool, tmp_path):
    marker = str(tmp_path / "started")
    assert_pool_works(pool)
    df = frame(60)
    thread, box = kill_when_started(lambda: worker_children(pool), marker)
    started = time.monotonic()
    result = pool.apply(df, _slow_marking(marker), chunk_rows=4)
    thread.join(5)
    assert "pid" in box, "no worker was killed"
    pd.testing.assert_series_equal(result, df.apply(lambda r: r["a"], axis=1))
    assert time.monotonic() - started < 30
    after = worker_children(pool)
    assert len(after) == 2 and box["pid"] not in after
    assert_pool_works(pool)


def test_os_exit_in_func_raises_worker_lost_with_exit_code(pool):
    def exits(row):
        if row["a"] == 17:
            os._exit(3)
        return row["a"]

    started = time.monotonic()
    with pytest.raises(rowpool.WorkerLost) as info:
        pool.apply(frame(40), exits, chunk_rows=5)
    assert time.monotonic() - started < 10
    assert info.value.exit_code == 3
    assert info.value.signal is None
    assert "exit code 3" in str(info.value)
    assert 17 in info.value.rows
    assert_pool_works(pool)


def test_segfault_in_func_raises_worker_lost_naming_sigsegv(pool):
    def crashes(row):
        if row["a"] == 9:
            import ctypes

            ctypes.string_at(0)
        return row["a"]

    with pytest.raises(rowpool.WorkerLost) as info:
        pool.apply(frame(30), crashes, chunk_rows=5)
    assert info.value.signal == signal.SIGSEGV
    assert "SIGSEGV" in str(info.value)
    assert 9 in info.value.rows
    assert_pool_works(pool)


def test_worker_killed_while_idle_between_jobs(pool):
    """Regression: a worker that died between jobs made the next job fail with QueueClosed."""
    assert_pool_works(pool)
    victim = worker_children(pool)[0]
    pidfd = os.pidfd_open(victim)
    try:
        os.kill(victim, signal.SIGKILL)
        # Fully gone (all its threads too), not merely a zombie leader: it died *before* the job.
        assert select.select([pidfd], [], [], 5)[0]
    finally:
        os.close(pidfd)
    assert_pool_works(pool, n=200)
    after = worker_children(pool)
    assert len(after) == 2 and victim not in after


def test_after_worker_lost_with_temporary_pool_nothing_is_left():
    with pytest.raises(rowpool.WorkerLost):
        rowpool.apply(frame(20), lambda row: os._exit(5), workers=2)
    # the autouse fixture checks that no process is left


# -- Ctrl-C and parent death (in a subprocess) ---------------------------------------------------

# The scripts' jobs run in workers (in_process=False): they test the workers' end.
SCRIPT_HEADER = """
import os, sys, time, threading
import numpy as np, pandas as pd
import rowpool
MARKER = {marker!r}
df = pd.DataFrame({{"a": np.arange(400)}})

def slow(row):
    if not os.path.exists(MARKER):
        open(MARKER, "w").close()
    time.sleep(0.05)
    return row["a"]
"""


def run_script(body: str, marker: str) -> subprocess.Popen:
    code = SCRIPT_HEADER.format(marker=marker) + textwrap.dedent(body)
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_workers(proc: subprocess.Popen, marker: str, count: int = 2) -> list[int]:
    assert wait_until(lambda: os.path.exists(marker) or proc.poll() is not None, 30), "job never started"
    assert proc.poll() is None, proc.communicate()
    assert wait_until(lambda: len(workers_of(proc.pid)) == count, 5)
    return workers_of(proc.pid)


@pytest.mark.parametrize(
    "body",
    [
        "rowpool.apply(df, slow, workers=2, chunk_rows=4, in_process=False)\n",
        "with rowpool.Pool(2) as pool:\n    pool.apply(df, lambda r: r['a'])\n    pool.apply(df, slow)\n",
        (
            "rowpool.map_batches(df, lambda c: [slow(r) for _, r in c.iterrows()], workers=2,"
            " in_process=False)\n"
        ),
    ],
    ids=["apply", "pool", "map_batches"],
)
def test_ctrl_c_stops_within_a_second_and_leaves_no_worker(tmp_path, body):
    marker = str(tmp_path / "started")
    proc = run_script(body, marker)
    try:
        workers = wait_for_workers(proc, marker)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("the job did not stop after SIGINT")
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "KeyboardInterrupt" in err, err
    assert "Traceback" in err
    assert proc.returncode != 0
    assert elapsed < 1.0, f"took {elapsed:.2f}s to stop after SIGINT"
    assert wait_until(lambda: not any(alive(p) for p in workers), 2), "a worker survived Ctrl-C"


@pytest.mark.parametrize(
    "body, count",
    [
        ("rowpool.apply(df, slow, workers=2, in_process=False)\n", 2),
        # Busy in pure Python (holding the GIL between switches) rather than sleeping.
        (
            "def spin(row):\n    slow(row)\n    t = time.time()\n    while time.time() - t < 5: pass\n"
            "rowpool.apply(df, spin, workers=2, in_process=False)\n",
            2,
        ),
        # The Pool (and so the workers) created by a thread: PR_SET_PDEATHSIG alone would follow that
        # thread, not the process.
        (
            "box = {}\nt = threading.Thread(target=lambda: box.setdefault('p', rowpool.Pool(2)))\n"
            "t.start(); t.join()\nbox['p'].apply(df, slow)\n",
            2,
        ),
    ],
    ids=["sleeping", "spinning", "pool-from-thread"],
)
def test_sigkill_of_parent_leaves_no_worker(tmp_path, body, count):
    marker = str(tmp_path / "started")
    proc = run_script(body, marker)
    try:
        workers = wait_for_workers(proc, marker, count)
        proc.kill()
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    survivors = lambda: [p for p in workers if alive(p)]  # noqa: E731
    assert wait_until(lambda: not survivors(), 2.5), f"workers alive after parent SIGKILL: {survivors()}"


def test_pool_created_in_a_thread_keeps_its_workers(tmp_path):
    """Regression: workers armed PR_SET_PDEATHSIG, which fires when the *spawning thread* exits."""
    box = {}

    def make():
        box["pool"] = rowpool.Pool(2)
        assert_pool_works(box["pool"])  # the workers are up and armed

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    pool = box.pop("pool")
    try:
        before = worker_children(pool)
        time.sleep(0.3)
        assert all(alive(p) for p in before), "the workers died with the thread that spawned them"
        assert_pool_works(pool)
        assert worker_children(pool) == before
    finally:
        pool.close()


# -- resources --------------------------------------------------------------------------------------


def fd_targets(pid) -> dict[int, str]:
    targets = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return targets


def test_workers_do_not_inherit_unrelated_fds(tmp_path):
    secret = tmp_path / "secret.txt"
    handle = open(secret, "w")
    read_end, write_end = os.pipe()
    os.set_inheritable(handle.fileno(), True)
    os.set_inheritable(read_end, True)
    os.set_inheritable(write_end, True)
    try:
        with rowpool.Pool(2) as pool:
            assert_pool_works(pool)
            parent = fd_targets(os.getpid())
            expected = ("/memfd:rowpool", "anon_inode:")  # the shared segment; per-process pidfds
            parent_shared = {t for fd, t in parent.items() if fd > 2 and not t.startswith(expected)}
            for pid in worker_children(pool):
                targets = fd_targets(pid)
                leaked = {fd: t for fd, t in targets.items() if fd > 2 and t in parent_shared}
                assert not leaked, f"worker {pid} inherited {leaked}"
                assert str(secret) not in targets.values()
                assert any(t.startswith("/memfd:rowpool") for t in targets.values())
                # its own parent-watch pidfd only (parent's pidfds name other processes)
                assert list(targets.values()).count("anon_inode:[pidfd]") == 1, targets
                # stdio, the segment, the queue, the parent-watch pidfd and little else
                assert len(targets) <= 8, targets
                # Process::spawn hands over exactly the segment (fd 3) and the queue (fd 4)
                assert targets[3].startswith("/memfd:rowpool"), targets
                assert targets[4].startswith("socket:"), targets
                cmdline = psutil.Process(pid).cmdline()
                assert cmdline[cmdline.index("--segment-fd") + 1] == "3"
                assert cmdline[cmdline.index("--queue-fd") + 1] == "4"
    finally:
        handle.close()
        os.close(read_end)
        os.close(write_end)


def test_no_dev_shm_entry_during_a_run(pool):
    before = set(os.listdir("/dev/shm"))
    seen = set()
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            seen.update(os.listdir("/dev/shm"))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        df = frame(3000)
        pd.testing.assert_series_equal(pool.apply(df, double, chunk_rows=50), df.apply(double, axis=1))
        for pid in worker_children(pool):
            with open(f"/proc/{pid}/maps") as maps:
                text = maps.read()
            assert "/dev/shm/" not in text
            assert "memfd:rowpool" in text
    finally:
        stop.set()
        sampler.join()
    new = seen - before
    # Entries of unrelated programs on the machine would still be theirs: none may be mapped by us.
    ours = {os.getpid(), *pool.pids()}
    for name in new:
        for pid in ours:
            with open(f"/proc/{pid}/maps") as maps:
                assert f"/dev/shm/{name}" not in maps.read()
    assert not [n for n in new if "rowpool" in n]


def test_warm_workers_are_reused_across_jobs(pool):
    assert_pool_works(pool)
    pids = worker_children(pool)
    assert len(pids) == 2
    for n in (10, 500, 3):
        assert_pool_works(pool, n)
    with pytest.raises(ValueError):
        pool.apply(frame(10), lambda row: int("x"))
    pool.apply(frame(10), lambda row: int("x"), errors="coerce")
    pool.map_batches(frame(50), lambda c: c["a"] * 2)
    assert worker_children(pool) == pids


def test_close_leaves_no_child_and_closed_pool_refuses_work():
    pool = rowpool.Pool(2)
    assert_pool_works(pool)
    pids = worker_children(pool)
    assert len(pids) == 2
    started = time.monotonic()
    pool.close()
    assert time.monotonic() - started < 3
    assert not any(alive(p) for p in pids)
    assert not [c for c in psutil.Process().children() if c.pid in pids]
    pool.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        pool.apply(frame(5), double)
    with rowpool.Pool(1) as other:
        inner = worker_children(other)
        assert_pool_works(other)
    assert not any(alive(p) for p in inner)


def test_next_job_after_an_error_works(pool):
    with pytest.raises(ZeroDivisionError):
        pool.apply(frame(30), lambda row: 1 // 0)
    with pytest.raises(rowpool.WorkerLost):
        pool.apply(frame(30), lambda row: os._exit(1) if row["a"] == 29 else 0)
    assert_pool_works(pool, 100)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_soak_many_tiny_jobs_do_not_grow_fds_or_processes(pool):
    df = frame(5)
    expected = df.apply(double, axis=1)
    for _ in range(5):  # warm up
        pool.apply(df, double)
    fds = open_fds()
    children = len(psutil.Process().children(recursive=True))
    pids = worker_children(pool)
    started = time.monotonic()
    for i in range(100):
        if i % 10 == 0:
            pool.map_batches(df, lambda c: c["a"] * 2)
        else:
            pd.testing.assert_series_equal(pool.apply(df, double), expected)
    elapsed = time.monotonic() - started
    assert open_fds() <= fds
    assert len(psutil.Process().children(recursive=True)) == children
    assert worker_children(pool) == pids
    assert elapsed < 30, f"100 tiny jobs took {elapsed:.1f}s"
