"""``rowpool.Pool``: warm workers reused across calls (the machinery is ``_workers.WorkerPool``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import api
from ._workers import DEFAULT_MEMORY_BUDGET, WorkerPool, open_pools

__all__ = ["DEFAULT_MEMORY_BUDGET", "Pool", "open_pools"]


class Pool(WorkerPool):
    """Warm rowpool workers, reused across calls.

    >>> with rowpool.Pool(workers=4) as pool:
    ...     a = pool.apply(df, f)
    ...     b = pool.map_batches(df2, g)

    ``workers`` (default: every CPU this process may use) processes are started at once.
    ``memory_budget`` (bytes) bounds the shared memory holding chunks and results in flight.
    ``max_worker_memory`` (bytes, default: no limit) bounds each worker's own resident memory (the
    shared arena not counted): a worker past it after a chunk is replaced by a fresh one, and a
    worker passing it while running a chunk is stopped like a crashed worker, so the row that
    blows up memory is found and reported (:class:`rowpool.WorkerLost`) instead of the machine
    running out of memory.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        max_worker_memory: int | None = None,
    ) -> None:
        super().__init__(workers, memory_budget=memory_budget, max_worker_memory=max_worker_memory)

    def apply(self, df: Any, func: Callable[..., Any], **options: Any) -> Any:
        """``rowpool.apply`` on this pool's workers; see :func:`rowpool.apply`."""
        return api.apply(df, func, pool=self, **options)

    def map_batches(self, df: Any, func: Callable[..., Any], **options: Any) -> Any:
        """``rowpool.map_batches`` on this pool's workers; see :func:`rowpool.map_batches`."""
        return api.map_batches(df, func, pool=self, **options)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self.worker_ids())} live"
        return f"<rowpool.Pool workers={self.workers} ({state}) budget={self.arena.capacity}>"
