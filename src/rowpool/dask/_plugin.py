"""The warm rowpool Pool of a Dask worker, and the pool a partition task runs on.

``RowpoolPlugin`` (a ``distributed.WorkerPlugin``, registered by ``cluster=`` jobs) starts one
Pool per Dask worker when the worker starts (or when the plugin is registered), with one rowpool
process per Dask worker thread, and closes it when the worker closes. Tasks on the worker's threads
share it: jobs from several threads run one after another on the pool (``Pool.running_job``), each
on all of its processes, so the node's cores are busy either way.

The nanny's ``memory_limit`` counts only the Dask worker process (see the package docstring), so
the Pool's ``max_worker_memory`` counts rowpool's children against it: ``CHILDREN_SHARE`` of the
limit, split over the rowpool processes (at least rowpool's minimum of 128 MiB each). The rest of
the limit is left to the Dask worker itself, which holds the partitions and results.

Outside a Dask worker (dask's threaded or synchronous scheduler) a task runs on one process-wide
Pool, started on first use and closed at exit.
"""

from __future__ import annotations

import atexit
import threading

try:
    from distributed import WorkerPlugin, get_worker
except ImportError:  # dask without distributed: only dask's local schedulers run partitions
    WorkerPlugin, get_worker = object, None  # type: ignore[misc,assignment]

from .._checks import MIN_WORKER_MEMORY
from ..pool import Pool

PLUGIN_NAME = "rowpool"
CHILDREN_SHARE = 0.5  # of a Dask worker's memory_limit, for its rowpool processes together

_lock = threading.Lock()
_process_pool: Pool | None = None


def child_memory_limit(memory_limit: int | None, processes: int) -> int | None:
    """``max_worker_memory`` of each of ``processes`` rowpool children under a Dask worker's
    ``memory_limit`` (None or 0: no limit)."""
    if not memory_limit:
        return None
    return max(MIN_WORKER_MEMORY, int(memory_limit * CHILDREN_SHARE) // processes)


def worker_limits(worker) -> tuple[int, int | None]:
    """(rowpool processes, max_worker_memory) for a Dask worker: one process per thread."""
    processes = max(1, worker.state.nthreads)
    memory_limit = getattr(getattr(worker, "memory_manager", None), "memory_limit", None)
    return processes, child_memory_limit(memory_limit, processes)


class RowpoolPlugin(WorkerPlugin):
    """Keeps a warm :class:`rowpool.Pool` on every Dask worker, sized to the worker's threads, its
    children's memory counted against the worker's ``memory_limit``. ``client.register_plugin(
    RowpoolPlugin())`` starts them ahead of the first job (``cluster=`` jobs register it)."""

    name = PLUGIN_NAME
    idempotent = True  # registering it again (every cluster= job does) keeps the warm pools

    def __init__(self):
        self.pool: Pool | None = None

    def setup(self, worker) -> None:
        processes, limit = worker_limits(worker)
        self.pool = Pool(processes, max_worker_memory=limit)

    def teardown(self, worker) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def __getstate__(self) -> dict:
        return {"pool": None}  # the pool belongs to the worker it runs on


def _dask_worker():
    if get_worker is None:
        return None
    try:
        return get_worker()
    except ValueError:  # not inside a Dask worker task
        return None


def close_process_pool() -> None:
    """Closes this process's Pool (the one used outside Dask workers), if it was started."""
    global _process_pool
    with _lock:
        if _process_pool is not None:
            _process_pool.close()
            _process_pool = None


def pool_here() -> Pool:
    """The Pool a task runs its rows on: its Dask worker's (the plugin's, set up here when the
    worker has none yet), else this process's."""
    global _process_pool
    worker = _dask_worker()
    with _lock:
        if worker is not None:
            plugin = worker.plugins.get(PLUGIN_NAME)
            if plugin is None or plugin.pool is None or plugin.pool.closed:
                plugin = RowpoolPlugin()
                plugin.setup(worker)
                worker.plugins[PLUGIN_NAME] = plugin  # the worker tears it down when it closes
            return plugin.pool
        if _process_pool is None:
            _process_pool = Pool()
        return _process_pool


atexit.register(close_process_pool)
