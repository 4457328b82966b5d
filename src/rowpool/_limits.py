"""Enforcement of a job's time and memory limits (the policy is ``_watch``'s): deadlines of the
chunks workers run, how long the event loop may wait, and retiring or stopping workers past
``max_worker_memory``. A part of the Dispatcher (its base class), on the parent's main thread: it
reads the dispatcher's ``workers``, ``inflight``, ``scheduler``, ``timeout`` and ``memory_watch``,
and ends workers through ``worker_ended`` and ``replace_workers``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ._recovery import Event
from ._watch import RETIRE_GRACE_MS, TIMEOUT_GRACE_MS, deadline

if TYPE_CHECKING:
    from ._dispatch import WorkerState
    from ._task_block import Task
    from ._watch import MemoryWatch

MAX_WAIT_SECONDS = 3600.0  # the longest single wait for events (deadlines further off are re-checked)


class Limits:
    """The Dispatcher's limit checks (see the module docstring)."""

    if TYPE_CHECKING:  # what the Dispatcher provides
        pool: Any
        scheduler: Any
        timeout: float | None
        memory_watch: MemoryWatch
        workers: dict[int, WorkerState]
        inflight: dict[int, Task]

        def handle_ready(self) -> None: ...
        def stopping(self) -> bool: ...
        def replace_workers(self, extra: int = 0) -> None: ...
        def worker_ended(
            self, worker: int, status: tuple[int, int, str], event: Event, *, over_memory: int | None = None
        ) -> None: ...

    def deadline(self, worker: int) -> float | None:
        """When the chunk at the head of ``worker``'s queue is overdue (None: no deadline)."""
        state = self.workers[worker]
        if not state.queue or state.running != state.queue[0]:
            return None  # a worker still starting up or between chunks has no deadline
        rows = self.inflight[state.queue[0]].rows
        count, cost = rows.end - rows.begin, self.scheduler
        return deadline(state.started, count, self.timeout, cost.seconds_per_row, cost.fixed_seconds)

    def wait_ms(self) -> int:
        deadlines = [d for d in map(self.deadline, self.workers) if d is not None]
        next_check = self.memory_watch.next_check()
        if next_check is not None:
            deadlines.append(next_check)
        if not deadlines:
            return -1
        # The engine waits at most an int of milliseconds: a deadline further off (a timeout of
        # inf, or of weeks) is looked at again after MAX_WAIT_SECONDS.
        seconds = min(min(deadlines) - time.monotonic(), MAX_WAIT_SECONDS)
        return max(0, int(seconds * 1000) + 1)

    def enforce_deadlines(self) -> None:
        self.handle_ready()  # a result that arrived in time is no overrun
        now = time.monotonic()
        for worker in list(self.workers):
            due = self.deadline(worker)
            if due is not None and now >= due:
                self.worker_ended(worker, self.pool.retire(worker, TIMEOUT_GRACE_MS), Event.TIMED_OUT)

    def check_retire(self, worker: int) -> None:
        """After a result: retires ``worker`` if it passed max_worker_memory, and replaces a retiring
        worker once it holds no chunk."""
        state = self.workers.get(worker)
        if state is None:
            return
        if not state.retiring:
            used = self.memory_watch.used(state.pid)
            if used is None:
                return
            state.baseline = used
            if not self.memory_watch.over(used):
                return
            state.retiring = True
            if state.queue and not self.stopping():
                # Its replacement starts up while it finishes the chunks it holds.
                self.replace_workers(extra=sum(s.retiring for s in self.workers.values()))
        if not state.queue:
            self.pool.retire(worker, RETIRE_GRACE_MS)
            del self.workers[worker]
            if not self.stopping():
                self.replace_workers()

    def check_memory(self) -> None:
        """Stops each busy worker past max_worker_memory (see ``_watch``)."""
        self.handle_ready()  # results already sent count as between chunks
        for worker, state in list(self.workers.items()):
            if worker not in self.workers or not state.queue:
                continue  # gone meanwhile; idle workers are checked when they return a result
            used = self.memory_watch.used(state.pid)
            if used is None or not self.memory_watch.over(used):
                continue
            head = self.inflight[state.queue[0]].rows
            event = self.memory_watch.verdict(used, state.baseline, head.begin, head.end)
            self.worker_ended(worker, self.pool.retire(worker, 0), event, over_memory=used)
