"""Shared fixtures. After every test (and every module): no child process left behind and no new
/dev/shm entry.

A leak is a child process of this test process that is not a worker of a Pool which was already open
when the test started and is still open (a module- or session-scoped pool fixture). Workers of a pool
the test itself opened and did not close count as leaks, and so does anything else (stray
subprocesses, workers of closed pools). At module end, after the module's fixtures are torn down,
every child not belonging to a still-open pool of a wider scope must be gone.
"""

from __future__ import annotations

import gc
import os
import time

import psutil
import pytest

GRACE_SECONDS = 2.0


def _open_pools():
    from rowpool.pool import open_pools

    return open_pools()


def _pool_pids(pools) -> set[int]:
    pids = set()
    for p in pools:
        if not p.closed:
            pids.update(p.pids())
    return pids


def _shm_entries() -> set[str]:
    try:
        return set(os.listdir("/dev/shm"))
    except FileNotFoundError:
        return set()


def _held_outside_our_tree(names: set[str]) -> set[str]:
    """Those of the /dev/shm ``names`` that a process outside this test process's tree has mapped or
    open (another program on the machine, e.g. a benchmark using multiprocessing): not ours."""
    me = psutil.Process()
    ours = {me.pid} | {c.pid for c in me.children(recursive=True)}
    paths = {f"/dev/shm/{n}": n for n in names}
    held = set()
    for pid in psutil.pids():
        if pid in ours:
            continue
        try:
            with open(f"/proc/{pid}/maps") as maps:
                for line in maps:
                    target = line.rstrip("\n").split(maxsplit=5)[-1].removesuffix(" (deleted)")
                    if target in paths:
                        held.add(paths[target])
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target in paths:
                    held.add(paths[target])
        except OSError:
            continue
    return held


# Names that Python's multiprocessing, loky and joblib give their semaphores and memmap folders.
# Neither rowpool nor these tests use them; other programs on the machine (a benchmark run) do.
FOREIGN_SHM_PREFIXES = ("sem.mp-", "sem.loky-", "joblib_memmapping_folder_", "loky-")


def _new_shm_entries(before: set[str]) -> set[str]:
    deadline = time.monotonic() + GRACE_SECONDS
    while True:
        new = {n for n in _shm_entries() - before if not n.startswith(FOREIGN_SHM_PREFIXES)}
        if new:
            new -= _held_outside_our_tree(new)
        if not new or time.monotonic() > deadline:
            return new
        time.sleep(0.1)  # a transient entry of another program may still go away


def _describe(process: psutil.Process) -> str:
    try:
        return f"pid {process.pid} ({process.status()}): {' '.join(process.cmdline())[:200]}"
    except psutil.Error:
        return f"pid {process.pid} (gone)"


def _leftover_children(allowed_pools) -> list[psutil.Process]:
    """Children (recursive) of this process outside ``allowed_pools``, after a grace period for
    processes on their way out."""
    me = psutil.Process()
    deadline = time.monotonic() + GRACE_SECONDS
    while True:
        allowed = _pool_pids(allowed_pools)
        left = []
        for child in me.children(recursive=True):
            if child.pid in allowed:
                continue
            try:
                if child.status() == psutil.STATUS_ZOMBIE and child.ppid() != me.pid:
                    continue  # a zombie of a grandchild: its own parent's business
            except psutil.Error:
                continue
            left.append(child)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def check_clean(allowed_pools, shm_before: set[str], when: str) -> None:
    import rowpool

    rowpool.shutdown()  # the default pool's workers stay warm between calls: end them here
    gc.collect()  # a Pool dropped without close() ends its workers when collected
    left = _leftover_children(allowed_pools)
    new_shm = _new_shm_entries(shm_before)
    problems = []
    if left:
        problems.append(f"child processes left {when}:\n  " + "\n  ".join(_describe(p) for p in left))
    if new_shm:
        problems.append(f"new /dev/shm entries {when}: {sorted(new_shm)}")
    if problems:
        # Clean up so that one leak does not fail every later test too.
        for p in left:
            try:
                p.kill()
                p.wait(2)
            except psutil.Error:
                pass
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(autouse=True, scope="module")
def _no_leaks_after_module():
    """Runs its teardown after the module's own fixtures (it is set up before them)."""
    pools_before = _open_pools()  # kept referenced so that their ids stay theirs
    ids_before = set(map(id, pools_before))
    shm_before = _shm_entries()
    yield
    allowed = [p for p in _open_pools() if id(p) in ids_before]
    check_clean(allowed, shm_before, "at the end of the module")


@pytest.fixture(autouse=True)
def _no_leaks_after_test():
    pools_before = _open_pools()
    ids_before = set(map(id, pools_before))
    shm_before = _shm_entries()
    yield
    import rowpool

    rowpool.shutdown()  # the default pool is no Pool the test left open
    gc.collect()
    still_open = _open_pools()
    opened_here = [p for p in still_open if id(p) not in ids_before]
    allowed = [p for p in still_open if id(p) in ids_before]
    check_clean(allowed, shm_before, "after the test")
    if opened_here:
        for p in opened_here:
            p.close()
        pytest.fail(f"the test left {len(opened_here)} Pool(s) open: {opened_here}", pytrace=False)


@pytest.fixture(autouse=True)
def _rows_in_workers(request, monkeypatch):
    """Every row runs in a worker, as the tests were written for, unless the test is marked
    ``tiny_jobs_in_process``: most tests use small frames, which rowpool would otherwise run in the
    calling process (and a func that crashes its process would take pytest with it). Marked tests
    start from the first guess of the budget, ``_local.START_SECONDS``."""
    from rowpool import _local

    monkeypatch.setattr(_local, "_starts", [])  # no test's budget depends on an earlier test
    monkeypatch.setattr(_local, "contention", lambda: 1.0)  # nor on the machine's load
    monkeypatch.setattr(_local, "_warm_starts", [])
    if request.node.get_closest_marker("tiny_jobs_in_process") is None:
        monkeypatch.setattr(_local, "start_seconds", lambda warm=False: 0.0)


@pytest.fixture(scope="module")
def pool():
    """A two-worker Pool shared by a module's tests (closed at module end)."""
    import rowpool

    p = rowpool.Pool(workers=2)
    yield p
    p.close()
