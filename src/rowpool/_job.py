"""A job, prepared before any worker starts, and its run.

    Job(source, spec, sink, options) ──run──► LocalRun (first rows, in this process, while it pays)
                                        └───► Dispatcher on a WorkerPool (the rest; while a cold
                                              pool's workers start, LocalRun runs more rows here)
                     both ──ChunkResults──► Collector ──row order──► Sink ──finish──► the result

Preparing a job (``rowpool._pandas.calls`` for DataFrames) checks the arguments, builds its
source, spec and sink, and pickles the spec here, so that a bad argument or an unpicklable
function fails before a worker starts.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from . import _checks, _default_pool, _projection
from ._dispatch import Dispatcher
from ._local import LocalRun, in_process_budget, record_start
from ._sink import Collector, Sink
from ._source import Source
from ._spec import JobSpec, Options, encode_spec
from ._workers import WorkerPool
from .progress import make_progress


class Job:
    """A job ready to run: ``run()`` returns its result."""

    def __init__(self, source: Source, spec: JobSpec, sink: Sink, options: Options):
        self.source = source
        self.spec = spec
        self.sink = sink
        self.options = options
        # An unpicklable func raises SerializationError here. Rows with a timeout must not pay for
        # an import, so their workers import everything before the first row.
        self.payload = encode_spec(spec, defer_imports=options.timeout is None)

    def run(self, pool: WorkerPool | None = None, *, workers: int | None = None) -> Any:
        """Runs the job: its first rows in this process while that pays (see ``_local``), the
        rest on ``pool``, else on the default pool (``_default_pool``) sized to ``workers``,
        started only if rows are left (its start, cold or warm, is measured: it sets the budget
        of later jobs in this process)."""
        options = self.options
        _projection.new_traffic()  # a job whose rows all run here moves nothing
        bar = make_progress(options.progress, self.source.rows)
        collector = Collector(self.sink, self.source, self.spec.errors, bar)
        size = _checks.workers(workers) if pool is None else pool.workers
        warm = pool is None and _default_pool.is_warm(size)
        budget = in_process_budget(options, pool_given=pool is not None, workers=size, warm=warm)
        local = LocalRun(self.source, self.spec, collector, budget=budget, fixed_rows=options.chunk_rows or 0)
        try:
            with _sigterm_interrupts():
                local.run()
            if not local.done:
                created = time.monotonic()
                with _pool_for(pool, size) as active:
                    bridge = local if pool is None and not warm and local.can_bridge() else None
                    first_started = self._run_on(active, collector, local, bridge)
                if pool is None and first_started is not None:
                    record_start(first_started - created, warm=warm)
        finally:
            if bar is not None:
                bar.close()
        return collector.finish()

    def _run_on(
        self, pool: WorkerPool, collector: Collector, local: LocalRun, bridge: LocalRun | None
    ) -> float | None:
        """Runs the rows ``local`` left on ``pool``'s workers (``bridge``: and more of them here
        while the workers start); returns when the first started."""
        with pool.running_job():
            dispatcher = Dispatcher(
                pool,
                self.source,
                self.spec,
                self.options,
                collector,
                self.payload,
                first_row=local.next_row,
                read=local.reads if local.next_row else None,
                bridge=bridge,
            )
            if local.next_row:  # the rows run here size the workers' first chunks
                dispatcher.scheduler.record(local.next_row, local.seconds)
            try:
                with _sigterm_interrupts():
                    dispatcher.run()
            except BaseException:
                pool.abort()
                raise
        return dispatcher.first_started


@contextlib.contextmanager
def _pool_for(pool: WorkerPool | None, workers: int) -> Iterator[WorkerPool]:
    """``pool``, else the default pool (the Dispatcher takes ``max_worker_memory`` from the
    job's options, not from the pool)."""
    if pool is not None:
        yield pool
        return
    with _default_pool.lease(workers) as default:
        yield default


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """During a job in the main thread, SIGTERM (when nobody else handles it) stops the job like
    Ctrl-C does: workers are ended and SystemExit(143) propagates, instead of a silent death."""
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
