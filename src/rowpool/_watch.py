"""Time and memory limits of a job's workers: when a chunk is overdue, and whether a worker past
``max_worker_memory`` is to blame on the chunk it runs.

Deadlines: a chunk may take its expected time (from the scheduler's measured cost per row) plus one
``timeout``; a single row exactly one ``timeout``. A worker still starting up or between chunks has
no deadline. An overdue worker is stopped (SIGTERM, then SIGKILL after ``TIMEOUT_GRACE_MS``).

Memory (bytes of a worker's own resident memory, the shared arena excluded): after each result the
worker's memory is read from /proc; a worker past the limit is retired (it gets no new chunks, and is
replaced once it returned those it holds). While chunks run, busy workers are sampled every
``MEMORY_CHECK_SECONDS``; a worker past the limit mid-chunk is stopped and handled like a dead worker
(``Event.OVER_MEMORY``), so the row that blows memory is found the same way. A worker that the chunk
grew by no more than half the limit (a leak of its earlier chunks filled it) is stopped without
blaming the chunk (``Event.LEAKED``), which re-runs as it is at most ``MAX_SPARED_OVERRUNS`` times.
"""

from __future__ import annotations

import time
from collections import Counter

from ._memory import worker_memory
from ._recovery import Event

TIMEOUT_GRACE_MS = 1000  # SIGTERM, then SIGKILL after this, for a worker past its deadline
MEMORY_CHECK_SECONDS = 0.2  # how often busy workers' memory is sampled when max_worker_memory is set
RETIRE_GRACE_MS = 1000  # a retired worker is idle: it exits at once on EOF or SIGTERM
MAX_SPARED_OVERRUNS = 4  # times a range passing max_worker_memory is re-run without blame


def deadline(
    started: float, rows: int, timeout: float | None, seconds_per_row: float, fixed_seconds: float = 0.0
) -> float | None:
    """When a chunk of ``rows`` rows started at ``started`` is overdue (None: no timeout): twice its
    measured fixed cost (the chunk's set-up is no row's fault), plus its expected time and one
    timeout, or exactly one timeout per row before the cost per row is known or for a single row."""
    if timeout is None:
        return None
    allowance = timeout + 2 * rows * seconds_per_row if seconds_per_row > 0 and rows > 1 else timeout * rows
    return started + 2 * fixed_seconds + allowance


class MemoryWatch:
    """The ``max_worker_memory`` policy of one job (``limit`` None: no limit)."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self.last_check = 0.0
        self.spared: Counter = Counter()  # (begin, end) -> overruns not blamed on that range

    def next_check(self) -> float | None:
        """When busy workers are sampled next (None: never)."""
        return None if self.limit is None else self.last_check + MEMORY_CHECK_SECONDS

    def due(self) -> bool:
        """True (and the clock restarts) when busy workers are to be sampled now."""
        if self.limit is None:
            return False
        now = time.monotonic()
        if now - self.last_check < MEMORY_CHECK_SECONDS:
            return False
        self.last_check = now
        return True

    def used(self, pid: int | None) -> int | None:
        """A worker's own resident memory (None: it is gone)."""
        return None if pid is None else worker_memory(pid)

    def over(self, used: int | None) -> bool:
        return self.limit is not None and used is not None and used > self.limit

    def verdict(self, used: int, baseline: int, begin: int, end: int) -> Event:
        """OVER_MEMORY when rows [begin, end) grew the worker by more than half the limit since its
        last result (a fresh worker: in all), else LEAKED (at most MAX_SPARED_OVERRUNS times)."""
        assert self.limit is not None
        grown = used - baseline
        if grown <= self.limit // 2 and self.spared[(begin, end)] < MAX_SPARED_OVERRUNS:
            self.spared[(begin, end)] += 1
            return Event.LEAKED
        return Event.OVER_MEMORY
