"""WorkerPool: warm worker processes plus the shared-memory arena they read chunks from, and the
internal API a job's Dispatcher drives them through (spawn, retire, send, wait, worker_ids).

A WorkerPool owns one memfd segment (the in-flight memory budget), the Arena bookkeeping of it, and
a Supervisor with its workers; only the thread running a job (``running_job``) touches them.
Workers are spawned with ``sys.executable`` (never forked from the parent, whose memory may be
huge) and inherit only the segment and their queue. ``rowpool.Pool`` is the public face of it; a
job without ``pool=`` runs on the default WorkerPool (``_default_pool``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator

from . import _checks, _core, _launch, _protocol
from .errors import QueueClosed

DEFAULT_MEMORY_BUDGET = 128 << 20
_SHUTDOWN_GRACE_MS = 2000
_ABORT_GRACE_MS = 100

# Every Pool not yet closed (tests use it to tell a deliberately open pool's workers from leaks).
_open_pools: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


def open_pools() -> list[WorkerPool]:
    """Every Pool not yet closed."""
    return [p for p in list(_open_pools) if not p.closed]


class WorkerPool:
    """Warm workers and their arena; see the module docstring (``rowpool.Pool`` documents the
    arguments)."""

    def __init__(
        self,
        workers: int | None = None,
        *,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        max_worker_memory: int | None = None,
    ):
        self.workers = _checks.workers(workers)
        self.max_worker_memory = _checks.max_worker_memory(max_worker_memory)
        _checks.memory_budget(memory_budget)
        self.segment = _core.Segment.create(memory_budget)
        self.memory = self.segment.view()
        self.arena = _core.Arena(memory_budget)
        self._supervisor = _core.Supervisor()
        self._job_ids = 0
        self._closed = False
        self._job_lock = threading.Lock()
        _open_pools.add(self)
        try:
            self.spawn()
        except BaseException:  # e.g. Ctrl-C: end the workers already started before it propagates
            self.abort()
            self.close()
            raise

    def worker_ids(self) -> list[int]:
        """Ids of the live workers."""
        return self._supervisor.workers()

    def pid(self, worker: int) -> int:
        """Process id of a live worker."""
        return self._supervisor.pid(worker)

    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return [self._supervisor.pid(w) for w in self._supervisor.workers()]

    def spawn(self, extra: int = 0) -> list[int]:
        """Spawns workers until ``workers`` (plus ``extra``: replacements started early) live;
        returns the ids of the new ones."""
        argv = _launch.worker_argv(self.workers)
        spawned = []
        while len(self._supervisor) < self.workers + extra:
            # The worker inherits only the segment (the first shared fd: SEGMENT_FD) and its queue.
            spawned.append(self._supervisor.spawn(argv, [self.segment.fd]))
        return spawned

    def send(self, worker: int, kind: int, tag: int, payload: bytes = b"") -> None:
        """Sends one message to a worker; raises QueueClosed when it is gone."""
        self._supervisor.send(worker, kind, 0, tag, 0, 0, payload)

    def retire(self, worker: int, grace_ms: int) -> tuple[int, int, str]:
        """Ends a worker (SIGTERM, then SIGKILL after ``grace_ms``) and reaps it; returns its exit
        status (exit code, signal number, description)."""
        return self._supervisor.terminate(worker, grace_ms)

    def wait(self, timeout_ms: int = -1):
        """The next event, waiting at most ``timeout_ms`` (-1: no limit) with the GIL released:
        ``("message", worker, header)``, ``("exited", worker, status)`` or None on timeout."""
        return self._supervisor.wait(timeout_ms)

    def ready_events(self) -> Iterator:
        """The events already waiting, without blocking."""
        while len(self._supervisor):
            event = self._supervisor.wait(0)
            if event is None:
                return
            yield event

    def receive_payload(self, worker: int, nbytes: int) -> bytes:
        """The payload of the message just received from ``worker``."""
        return self._supervisor.receive_payload(worker, nbytes)

    def _reap_dead(self) -> None:
        """Forgets workers that died while idle (between jobs): their exit or EOF is pending."""
        for what, worker, detail in self.ready_events():
            if what == "message":  # a stale message from an interrupted job: discard it
                self.receive_payload(worker, detail[5])

    def _send_job(self, worker: int, job_id: int, payload: bytes) -> bool:
        """Sends JOB to a worker; False (and the worker is reaped) when it turned out to be dead."""
        try:
            self.send(worker, _protocol.JOB, job_id, payload)
            return True
        except QueueClosed:
            self.retire(worker, 0)
            return False

    def start_job(self, payload: bytes) -> int:
        """Makes sure all workers live and sends them the job; returns the job id."""
        if self._closed:
            raise ValueError("this Pool is closed")
        self._reap_dead()
        self._job_ids += 1
        for _attempt in range(3):
            self.spawn()
            if all([self._send_job(w, self._job_ids, payload) for w in self.worker_ids()]):
                break
        return self._job_ids

    def running_job(self) -> threading.Lock:
        """Held while a job runs on this pool: jobs from several threads run one after another."""
        return self._job_lock

    def abort(self) -> None:
        """Ends every worker at once (a job was interrupted mid-flight) and clears the arena.
        The next job spawns fresh workers."""
        self._supervisor.stop_all(_ABORT_GRACE_MS)
        self.arena = _core.Arena(self.arena.capacity)

    def close(self, wait: bool = True) -> None:
        """Stops the workers and frees the shared memory. With ``wait=False`` the workers are told to
        exit at once and a background thread reaps them, so the caller does not wait for their
        interpreters to shut down (a temporary pool's last call returns sooner)."""
        if self._closed:
            return
        self._closed = True
        _open_pools.discard(self)
        if wait:
            self._supervisor.shutdown(_SHUTDOWN_GRACE_MS)
            return
        self._supervisor.close_queues()
        reaper = threading.Thread(
            target=self._supervisor.shutdown, args=(_SHUTDOWN_GRACE_MS,), name="rowpool-reaper", daemon=False
        )
        try:
            reaper.start()
        except RuntimeError:  # no thread to spare (e.g. under an address-space limit): reap here
            self._supervisor.shutdown(_SHUTDOWN_GRACE_MS)

    @property
    def closed(self) -> bool:
        """True once ``close`` was called."""
        return self._closed
