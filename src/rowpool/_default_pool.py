"""The default pool: ``rowpool.apply`` / ``map_batches`` without ``pool=`` reuse one warm WorkerPool,
as loky's reusable executor does, instead of starting fresh interpreters for every call.

- It is started by the first job that needs workers, with that job's ``workers``; a later job
  asking for another number resizes it (workers are spawned or retired, the warm ones stay).
- A job interrupted mid-flight (Ctrl-C, a poisoned row) aborts it: its workers are ended and it is
  replaced by the next job. Workers that died while it was idle are replaced when the next job
  starts (``WorkerPool.start_job``).
- Its workers exit once it has been idle for ``idle_timeout()`` seconds (``set_idle_timeout``, or
  the ``ROWPOOL_IDLE_TIMEOUT`` environment variable; default 300): a ``threading.Timer`` waits
  for that (no polling) and closes the pool. They also exit at interpreter exit (``atexit``) and
  on ``rowpool.shutdown()``. Idle workers hold no pandas unless a row needed it.
- While one thread's job runs on it, a job of another thread runs on a temporary pool, as every
  job did before: jobs of different threads still run side by side.
- A forked child forgets its parent's default pool (the workers are the parent's) and starts its
  own when it needs one.

The module lock guards the module state only; the pool itself is touched by the thread holding
the lease (``lease``) or, once nobody can lease it any more, by the thread closing it.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import threading
from collections.abc import Iterator

from ._workers import WorkerPool

IDLE_TIMEOUT_VARIABLE = "ROWPOOL_IDLE_TIMEOUT"
DEFAULT_IDLE_TIMEOUT = 300.0
_RESIZE_GRACE_MS = 500

_lock = threading.Lock()
_pool: WorkerPool | None = None
_busy = False  # a job runs on _pool (a thread holds the lease)
_timer: threading.Timer | None = None
_idle_timeout: float | None = None  # set_idle_timeout's value; None: the environment's or the default


def _checked_timeout(seconds: object, what: str) -> float:
    if seconds is None:
        return math.inf
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{what} must be a number of seconds or None, not {type(seconds).__name__}")
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"{what} must be >= 0 seconds (or None: never), got {seconds!r}")
    return float(seconds)


def set_idle_timeout(seconds: float | None) -> None:
    """Sets how long the default pool's workers (those of ``rowpool.apply`` / ``map_batches``
    without ``pool=``) stay warm after a job: they exit once idle this many seconds. ``0`` ends
    them after every job (each call starts fresh workers), ``None`` keeps them until
    ``rowpool.shutdown()`` or interpreter exit. The default is 300 s, or the environment variable
    ``ROWPOOL_IDLE_TIMEOUT`` (seconds) when set. Applies from the end of the next job."""
    global _idle_timeout
    _idle_timeout = _checked_timeout(seconds, "idle timeout")


def idle_timeout() -> float:
    """Seconds the default pool stays warm after a job (``math.inf``: until shutdown)."""
    if _idle_timeout is not None:
        return _idle_timeout
    text = os.environ.get(IDLE_TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_IDLE_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{IDLE_TIMEOUT_VARIABLE} must be a number of seconds, got {text!r}") from None
    return _checked_timeout(value, IDLE_TIMEOUT_VARIABLE)


def current() -> WorkerPool | None:
    """The default pool when it is open (for tests and ``is_warm``)."""
    pool = _pool
    return pool if pool is not None and not pool.closed else None


def is_warm(workers: int) -> bool:
    """Whether a job of ``workers`` workers would find them running: no start to pay."""
    pool = current()  # (its workers are not counted: another thread may be driving the pool)
    return pool is not None and not _busy and pool.workers == workers


@contextlib.contextmanager
def lease(workers: int) -> Iterator[WorkerPool]:
    """The default pool sized to ``workers`` for one job (a temporary pool when another thread's
    job holds it). A job that fails with an exception aborts the pool (its workers end at once)."""
    global _pool, _busy
    timeout = idle_timeout()  # a bad ROWPOOL_IDLE_TIMEOUT fails before any worker starts
    with _lock:
        free = not _busy
        if free:
            _busy = True
            _cancel_timer()
            pool = current()
    if not free:
        with _temporary(workers) as temporary:
            yield temporary
        return
    try:
        if pool is None:
            pool = WorkerPool(workers)
            with _lock:
                _pool = pool
        elif pool.workers != workers:
            _resize(pool, workers)
        try:
            yield pool
        except BaseException:
            pool.abort()  # its workers are gone before the error reaches the caller
            _replace(pool)
            raise
    finally:
        _release(pool, timeout)


@contextlib.contextmanager
def _temporary(workers: int) -> Iterator[WorkerPool]:
    pool = WorkerPool(workers)
    try:
        yield pool
    except BaseException:
        pool.abort()
        raise
    finally:
        pool.close(wait=False)  # its workers exit and are reaped while the caller goes on


def _resize(pool: WorkerPool, workers: int) -> None:
    """Keeps ``workers`` of the pool's warm workers (the next job spawns what is missing)."""
    pool.workers = workers
    for worker in pool.worker_ids()[workers:]:
        pool.retire(worker, _RESIZE_GRACE_MS)


def _replace(pool: WorkerPool) -> None:
    """Drops an aborted pool: the next job starts a fresh one."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.close(wait=False)


def _release(pool: WorkerPool | None, timeout: float) -> None:
    """The job on ``pool`` is over: start its idle countdown, or close it when it stopped being
    the default meanwhile (``shutdown``) or must not stay warm (``timeout`` 0)."""
    global _busy
    with _lock:
        _busy = False
        if pool is None or pool.closed:
            return
        if _pool is pool:
            if math.isinf(timeout):
                return
            if timeout > 0 and _start_timer(pool, timeout):
                return
            _detach(pool)  # timeout 0, or no thread to spare for the countdown: close it now
    pool.close(wait=False)


def _start_timer(pool: WorkerPool, timeout: float) -> bool:
    """Under the lock: starts the idle countdown of ``pool``; False when no thread can start
    (e.g. under an address-space limit)."""
    global _timer
    timer = threading.Timer(timeout, _expire, args=(pool,))
    timer.name = "rowpool-idle-timeout"
    timer.daemon = True
    try:
        timer.start()
    except RuntimeError:
        return False
    _timer = timer
    return True


def _expire(pool: WorkerPool) -> None:
    """The timer fired: close the pool unless a job took it meanwhile."""
    with _lock:
        if _pool is not pool or _busy:
            return
        _detach(pool)
    pool.close(wait=True)


def _detach(pool: WorkerPool) -> None:
    """Under the lock: the pool stops being the default."""
    global _pool, _timer
    _pool = None
    _timer = None


def _cancel_timer() -> None:
    global _timer
    if _timer is not None:
        _timer.cancel()
        _timer = None


def shutdown() -> None:
    """Ends the default pool's workers now (those that ``rowpool.apply`` / ``map_batches`` without
    ``pool=`` keep warm between calls) and frees its shared memory; the next call starts fresh
    workers. A job running on it in another thread finishes first: the pool closes when it
    ends. Runs by itself at interpreter exit; safe to call at any time, also twice."""
    global _pool
    with _lock:
        _cancel_timer()
        pool = current()
        _pool = None
        if pool is None or _busy:
            return  # a running job's lease closes it (see _release: it is no longer the default)
    pool.close(wait=True)


def _forget_in_child() -> None:
    """After ``os.fork``: the default pool's workers are the parent's; this process starts its own.
    (Dropping the copy is harmless: a Process kills and reaps only in the process that spawned it.)"""
    global _lock, _pool, _busy, _timer
    _lock = threading.Lock()
    _pool, _busy, _timer = None, False, None


os.register_at_fork(after_in_child=_forget_in_child)
atexit.register(shutdown)
