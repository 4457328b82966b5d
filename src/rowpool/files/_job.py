"""A job over a source that need not fit in memory: windows in, results out, in bounded memory.

    source ──read-ahead thread──► windows ──WindowSource──► one rowpool Job on a warm Pool
                                                                     │ ranges in row order
    output file ◄── streamed as it goes ◄── part files + journal (FileSink) ◄── WindowSink ◄┤
    Arrow / polars / pandas result ◄── MemorySink ◄─────────────────────────────────────────┘

The whole input is one job (``init=`` runs once per worker): ``WindowSource`` hands the dispatcher
chunks of the windows it holds, reading the next window as chunks reach it, and ``WindowSink`` turns
the results of each window into that window's pandas result, committed before the next window's.
``max_memory`` is split between the shared arena (chunks in flight) and the windows held by the
parent (those with rows in flight, the one read ahead, the one being read). A job resumed with
``resume=True`` starts at the first row not committed; rows already committed do not run again.

A source of unknown length (a ``RecordBatchReader``), and ``raw=`` / ``result_type=`` (pandas
shapes those results), run window by window instead: each window through ``rowpool.apply`` /
``map_batches`` on the same Pool.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

from ._journal import Journal
from ._output import OutputTarget, output_rows
from ._sinks import FileSink, MemorySink, journal_failures_frame
from ._window_sink import WindowSink
from ._window_source import WindowSource
from ._windows import read_ahead

ARENA_SHARE = 4  # the arena gets max_memory / ARENA_SHARE
WINDOW_SHARE = 10  # a window's Arrow size is max_memory / WINDOW_SHARE
ARENA_RANGE = (16 << 20, 128 << 20)  # at most the default pool's arena: jobs may run on it
MIN_WINDOW_BYTES = 1 << 20
# Windows are one job's read-ahead, not a unit of work: past a few tens of MB a larger window only
# makes the reads that workers wait for longer (and the memory held bigger).
MAX_WINDOW_BYTES = 32 << 20


@dataclass
class FileJobSummary:
    """What a job with ``output=`` returns: the ``path`` written, its ``rows``, the number of
    ``failures`` (rows whose function raised, with ``errors="coerce"`` or ``"collect"``), the
    ``wall`` time, the rows already committed by an earlier run (``resumed_rows``) and, for
    ``errors="collect"``, the ``failed`` rows as a DataFrame (else None)."""

    path: str
    rows: int
    failures: int
    wall: float
    resumed_rows: int = 0
    failed: object = None

    def __str__(self) -> str:
        rate = (self.rows - self.resumed_rows) / self.wall if self.wall > 0 else 0.0
        resumed = f", {self.resumed_rows:,} resumed" if self.resumed_rows else ""
        return (
            f"{self.rows:,} rows -> {self.path} in {self.wall:.2f} s ({rate:,.0f} rows/s{resumed}), "
            f"{self.failures:,} failures"
        )


def budget(max_memory: int) -> tuple[int, int]:
    """(arena bytes, window bytes) for ``max_memory``."""
    low, high = ARENA_RANGE
    arena = min(high, max(low, max_memory // ARENA_SHARE))
    return arena, min(MAX_WINDOW_BYTES, max(MIN_WINDOW_BYTES, max_memory // WINDOW_SHARE))


@contextlib.contextmanager
def _pool(pool, workers, arena_bytes, max_worker_memory, *, default_allowed: bool = False):
    """Where the job runs, as options: ``pool``; else rowpool's default pool when its arena fits
    in the budget (``default_allowed``: a job that runs its first rows here while workers start,
    then reuses warm workers); else a temporary pool with the budget's arena."""
    from .._workers import DEFAULT_MEMORY_BUDGET, WorkerPool

    if pool is not None:
        yield {"pool": pool}
        return
    if default_allowed and arena_bytes >= DEFAULT_MEMORY_BUDGET:
        yield {"workers": workers, "max_worker_memory": max_worker_memory}
        return
    temporary = WorkerPool(workers, memory_budget=arena_bytes, max_worker_memory=max_worker_memory)
    try:
        yield {"pool": temporary}
    finally:
        temporary.close(wait=False)


def _run_window(call, window, func, errors: str, options: dict):
    """The window's result and its failures as [label, exception, message, traceback] lists.
    ``"coerce"`` runs as ``"collect"`` so that failures are counted."""
    if errors == "raise":
        return call(window.frame, func, errors="raise", progress=False, **options), []
    result, failed = call(window.frame, func, errors="collect", progress=False, **options)
    failures = [
        [label if isinstance(label, int) else str(label), row.exception, row.message, row.traceback]
        for label, row in zip(failed.index.tolist(), failed.itertuples())
    ]
    return result, failures


def run_windows(windows, start, rows, sink, call, func, *, errors, progress_bar, pool_options, options):
    """Runs rows ``start`` to ``rows`` (None: to the end) through ``call`` into ``sink``; returns
    the failures."""
    one_job = _one_job(rows, start, options)
    for_rows = one_job and call.__name__ == "apply"  # windows read for one job of rows
    with (
        _pool(**pool_options, default_allowed=one_job) as where,
        # closing: an error stops the read-ahead at once
        contextlib.closing(read_ahead(windows(start, for_rows=for_rows))) as ready,
    ):
        if one_job:
            name = getattr(getattr(windows, "source", None), "name", "the input")
            window_bytes = getattr(windows, "window_bytes", None)
            source = WindowSource(
                ready, rows - start, start, for_rows=for_rows, name=name, window_bytes=window_bytes
            )
            return _run_job(source, sink, call, func, errors, progress_bar, dict(options, **where))
        failures = []
        for window in ready:
            result, failed = _run_window(call, window, func, errors, dict(options, **where))
            sink.add(window, result, failed)
            failures += failed
            if progress_bar is not None:
                progress_bar.update(window.end - window.begin)
    return failures


def _one_job(rows, start: int, options: dict) -> bool:
    """Whether the rows run as one job (see the module docstring)."""
    return rows is not None and rows > start and not options.get("raw") and options.get("result_type") is None


def _run_job(source: WindowSource, sink, call, func, errors, progress_bar, options):
    """The rows of ``source`` as one Job (``rowpool.apply``'s or ``map_batches``')."""
    from .._pandas import calls

    mode = "rows" if call.__name__ == "apply" else "batches"
    results = WindowSink(source, sink, mode, errors, progress_bar)
    job_options = {k: v for k, v in options.items() if k not in ("raw", "result_type", "cluster", "meta")}
    job_options.update(errors=errors, progress=False)
    calls.run_source(source.first_frame, source, func, mode, lambda _errors: results, job_options)
    failures = results.failures
    return failures


def open_journal(target: OutputTarget, fingerprint: dict, resume: bool) -> Journal | None:
    """The journal to continue (``resume``) or a new one; None when resuming a job whose output
    is complete (it exists and has no journal left)."""
    if resume:
        journal = Journal.open(target.path, fingerprint)
        if journal is not None:
            return journal
        if os.path.exists(target.path):
            return None
    return Journal.create(target.path, fingerprint)


def run_to_file(
    windows, rows, target, fingerprint, call, func, *, resume, errors, progress, pool_options, options
):
    """The job with ``output=``: returns a FileJobSummary."""
    from ..progress import make_progress

    started = time.perf_counter()
    journal = open_journal(target, fingerprint, resume)
    if journal is None:
        rows = output_rows(target)
        return FileJobSummary(target.path, rows, 0, time.perf_counter() - started, resumed_rows=rows)
    resumed = journal.rows
    sink = FileSink(target, journal, rows)
    if not journal.done:
        bar = make_progress(progress, rows)
        if bar is not None:
            bar.update(resumed)
        completed = False
        try:
            run_windows(
                windows, resumed, rows, sink, call, func,
                errors=errors, progress_bar=bar, pool_options=pool_options, options=options,
            )  # fmt: skip
            completed = True
        finally:
            # The windows handed over are committed before anything else happens; a run that
            # stops here leaves them durable for a resume (a completed one fsyncs its output).
            sink.close(stopped=not completed)
            if bar is not None:
                bar.close()
    sink.finish()
    failures = journal.failures
    return FileJobSummary(
        path=target.path,
        rows=sink.rows,
        failures=len(failures),
        wall=time.perf_counter() - started,
        resumed_rows=resumed,
        failed=journal_failures_frame(failures) if errors == "collect" else None,
    )


def run_in_memory(windows, kind, rows, call, func, *, errors, progress, pool_options, options):
    """The job without ``output=``: the result as ``kind``, and the failures for ``"collect"``."""
    from ..progress import make_progress

    sink = MemorySink(kind)
    bar = make_progress(progress, rows)
    try:
        failures = run_windows(
            windows, 0, rows, sink, call, func,
            errors=errors, progress_bar=bar, pool_options=pool_options, options=options,
        )  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    result = sink.finish()
    return (result, journal_failures_frame(failures)) if errors == "collect" else result
