"""Memory of processes, read from /proc: a worker's own resident memory (what max_worker_memory
limits), and the sum of PSS over a process and its descendants (shared pages are split between the
processes sharing them, so the sum counts them once)."""

from __future__ import annotations

import os
import threading


def worker_memory(pid: int) -> int | None:
    """A worker's own resident memory in bytes: VmRSS without RssShmem (the pages of the shared
    arena it touched belong to the pool's budget, not to the worker). None when it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            text = status.read()
    except OSError:
        return None
    resident = shared = 0
    for line in text.splitlines():
        if line.startswith(b"VmRSS:"):
            resident = int(line.split()[1]) * 1024
        elif line.startswith(b"RssShmem:"):
            shared = int(line.split()[1]) * 1024
    return resident - shared


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(_children(current))
    return found


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PeakTreePss:
    """Samples the PSS sum of this process tree every ``interval`` seconds until stopped.

    >>> with PeakTreePss() as peak:
    ...     run_job()
    >>> peak.bytes
    """

    def __init__(self, pid: int | None = None, interval: float = 0.05):
        self.pid = os.getpid() if pid is None else pid
        self.interval = interval
        self.bytes = 0
        self.processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rowpool-pss", daemon=True)

    def sample(self) -> None:
        pids = tree(self.pid)
        total = sum(pss_bytes(p) for p in pids)
        if total > self.bytes:
            self.bytes, self.processes = total, len(pids)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakTreePss:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
