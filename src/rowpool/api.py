"""The public functions: ``apply`` and ``map_batches``. Arguments are checked first (by
``rowpool._checks``), before any worker starts; the work happens in a Pool (a temporary one unless
``pool=`` is given)."""

from __future__ import annotations

import contextlib
import time

import pandas as pd

from . import _checks, _replay, _results, dask
from ._dispatch import Dispatcher
from ._exception_types import restore_type
from ._local import LocalRun, in_process_budget, record_start
from ._spec import JobSpec, encode_spec
from ._table import InputTable
from .errors import make_row_error
from .pool import Pool
from .progress import make_progress


def _check_job(df, func, errors, progress, chunk_rows, args, kwargs, timeout, retries, max_worker_memory):
    _checks.frame(df)
    _checks.call(func, errors, progress, chunk_rows, args, kwargs)
    _checks.recovery(timeout, retries, max_worker_memory)


@contextlib.contextmanager
def _pool_for(pool, workers, max_worker_memory=None):
    if pool is not None:
        yield pool
        return
    temporary = Pool(workers, max_worker_memory=max_worker_memory)
    try:
        yield temporary
    except BaseException:
        temporary.abort()  # its workers are gone before the error reaches the caller
        raise
    finally:
        temporary.close(wait=False)  # its workers exit and are reaped while the caller goes on


@contextlib.contextmanager
def _sigterm_interrupts():
    """During a job in the main thread, SIGTERM (when nobody else handles it) stops the job like
    Ctrl-C does: workers are ended and SystemExit(143) propagates, instead of a silent death."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run(
    table,
    spec,
    *,
    pool,
    workers,
    chunk_rows,
    progress,
    timeout,
    retries,
    max_worker_memory=None,
    in_process=None,
):
    # An unpicklable func raises SerializationError before any row runs, wherever rows run. Rows
    # with a timeout must not pay for an import, so their workers import everything first.
    payload = encode_spec(spec, defer_imports=timeout is None)
    bar = make_progress(progress, table.rows)
    budget = in_process_budget(in_process, pool=pool, timeout=timeout, max_worker_memory=max_worker_memory)
    local = LocalRun(table, spec, budget=budget, fixed_rows=chunk_rows or 0, progress=bar)
    try:
        with _sigterm_interrupts():
            local.run()
        outcomes = local.outcomes
        if not local.done:
            outcomes.update(
                _run_in_workers(
                    table,
                    spec,
                    pool=pool,
                    workers=workers,
                    chunk_rows=chunk_rows,
                    progress=bar,
                    payload=payload,
                    timeout=timeout,
                    retries=retries,
                    max_worker_memory=max_worker_memory,
                    local=local,
                )
            )
    finally:
        if bar is not None:
            bar.close()
    return [
        (begin, end, outcomes[begin][1]) for begin, end in sorted((b, e) for b, (e, _) in outcomes.items())
    ]


def _run_in_workers(
    table, spec, *, pool, workers, chunk_rows, progress, payload, local, timeout, retries, max_worker_memory
):
    """Runs the rows ``local`` left (all when it ran none) on the pool's workers: their outcomes.
    A temporary pool's start is measured: it sets the budget of later jobs in the calling process."""
    created = time.monotonic()
    with _pool_for(pool, workers, max_worker_memory) as active, active.running_job():
        run = Dispatcher(
            active,
            table,
            spec,
            fixed_rows=chunk_rows or 0,
            progress=progress,
            payload=payload,
            max_worker_memory=active.max_worker_memory if max_worker_memory is None else max_worker_memory,
            first_row=local.next_row,
            timeout=timeout,
            retries=retries,
        )
        if local.next_row:  # the rows run here size the workers' first chunks
            run.scheduler.record(local.next_row, local.seconds)
        try:
            with _sigterm_interrupts():
                outcomes = run.run()
        except BaseException:
            active.abort()
            raise
    if pool is None and run.first_started is not None:
        record_start(run.first_started - created)
    return outcomes


def _failures(chunks):
    """(position, type name, message, traceback, pickled type) of every failed row, in row order."""
    failures = [
        (begin + pos, type_name, message, tb, original)
        for begin, _end, outcome in chunks
        for pos, type_name, message, tb, original in outcome.failures
    ]
    failures.sort(key=lambda f: f[0])
    return failures


def _raise_first(failures, index):
    position, type_name, message, tb, original = failures[0]
    raise make_row_error(
        restore_type(original),
        label=index[position],
        position=position,
        exc_type=type_name,
        message=message,
        worker_traceback=tb,
    )


def _failure_frame(failures, index) -> pd.DataFrame:
    positions = [f[0] for f in failures]
    return pd.DataFrame(
        {
            "exception": [f[1] for f in failures],
            "message": [f[2] for f in failures],
            "traceback": [f[3] for f in failures],
        },
        index=index[positions],
    )


def _fill_failed_batches(values, failed, chunks, index):
    """NA in place of the value of each failed chunk, shaped like the other chunks' values:
    NaN rows on the chunk's index for Series/DataFrames and per-row arrays, else NaN."""
    import numpy as np

    good = [(v, e - b) for v, f, (b, e, _) in zip(values, failed, chunks) if not f]
    if not good:
        return [pd.Series(np.nan, index=index[b:e]) for b, e, _ in chunks]
    per_row = all(len(v) == n for v, n in good if hasattr(v, "__len__"))
    first = good[0][0]
    filled = []
    for value, bad, (begin, end, _) in zip(values, failed, chunks):
        if not bad:
            filled.append(value)
        elif per_row and all(isinstance(v, pd.DataFrame) for v, _ in good):
            filled.append(pd.DataFrame(np.nan, index=index[begin:end], columns=first.columns))
        elif per_row and all(isinstance(v, pd.Series) for v, _ in good):
            filled.append(pd.Series(np.nan, index=index[begin:end], name=first.name))
        elif per_row and all(isinstance(v, (np.ndarray, list)) and np.ndim(v) == 1 for v, _ in good):
            filled.append(np.full(end - begin, np.nan))
        else:
            filled.append(np.nan)
    return filled


def _assemble_rows(chunks, index):
    return _results.assemble_rows([outcome for _b, _e, outcome in chunks], index)


def _assemble_batches(chunks, index):
    values = [outcome.values()[0] for _b, _e, outcome in chunks]
    failed = [bool(outcome.errors) for _b, _e, outcome in chunks]
    if any(failed):
        values = _fill_failed_batches(values, failed, chunks, index)
    return _results.assemble_batches(values, [e - b for b, e, _ in chunks], index)


def _execute(table, spec, assemble, **run_options):
    """Runs the job, then raises the first failure (``errors="raise"``) or assembles the result
    (with the failures frame for ``errors="collect"``)."""
    chunks = _run(table, spec, **run_options)
    index = table.frame.index
    failures = _failures(chunks)
    if failures and spec.errors == "raise":
        _raise_first(failures, index)
    result = assemble(chunks, index)
    return (result, _failure_frame(failures, index)) if spec.errors == "collect" else result


def _dask_job(mode, *, df, func, **options):
    """A dask DataFrame (lazy result), or ``cluster=``: see ``rowpool.dask``."""
    from . import dask

    return dask.run(df, func, mode, **options)


def _files_job(mode, *, df, func, **options):
    """A job over a source larger than memory, or writing to a file: see ``rowpool.files``."""
    from . import files

    return files.run(df, func, mode, **options)


def apply(
    df,
    func,
    *,
    workers=None,
    errors="raise",
    progress=None,
    chunk_rows=None,
    row_type="row",
    timeout=None,
    retries=2,
    max_worker_memory=None,
    args=(),
    kwargs=None,
    pool=None,
    output=None,
    columns=None,
    keep=(),
    max_memory="1GB",
    resume=False,
    overwrite=False,
    in_process=None,
    init=None,
    raw=False,
    result_type=None,
    cluster=None,
    meta=None,
):
    """Parallel ``df.apply(func, axis=1)``: the same result, computed on ``workers`` processes.

    ``func(row, *args, **kwargs)`` is called exactly once per row. ``row`` behaves like pandas' row
    Series (``row["a"]``, ``row.a``, ``row.get``, ``row.name``, ``row.index``, ``row.values``,
    ``row.to_dict()``, ``row.items()``, ``len(row)``, iteration, operators, assignment);
    ``row_type="series"`` hands a genuine ``pandas.Series`` instead. Scalars give a Series and
    Series results a DataFrame, with pandas' own dtypes, on ``df.index``.

    ``errors``: ``"raise"`` raises a :class:`rowpool.RowError` (also an instance of the row's
    exception type) for the first failing row; ``"coerce"`` puts NA in failed rows;
    ``"collect"`` returns ``(result, failures)``, ``failures`` a DataFrame indexed by row label
    with the exception type, message and traceback. ``progress`` shows a tqdm bar (default: on a
    terminal or notebook). ``chunk_rows`` fixes the chunk length (default: sized from measured row
    cost). ``pool`` reuses a :class:`rowpool.Pool`'s warm workers.

    Faults: a worker that dies (SIGKILL, OOM, segfault, ``os._exit``) loses nothing: its chunk is
    re-run on a fresh worker, bisected down to the row that kills workers; that row is retried
    ``retries`` times, then raises :class:`rowpool.WorkerLost` (or becomes NA / a failure record
    with ``"coerce"``/``"collect"``). ``timeout`` (seconds per row, checked per chunk) stops a
    stuck worker and reports the row as :class:`rowpool.RowTimeout`. ``max_worker_memory`` (bytes
    of a worker's own resident memory; default: the pool's, else no limit) replaces a worker past
    it between chunks, and stops one passing it mid-chunk like a crashed worker, so a row that blows
    up memory is reported as ``WorkerLost`` instead of exhausting the machine.

    ``in_process``: ``None`` (default) runs a job whose measured serial cost stays below what
    starting workers costs in the calling process (without ``pool=``, ``timeout`` and
    ``max_worker_memory``): the first rows run here and, once their cost projected over the job
    passes that, the rest go to workers; ``func`` still runs once per row. ``False`` runs every row
    in a worker (isolating the caller from a ``func`` that crashes its process), ``True`` every row
    in the calling process (e.g. to debug ``func``).

    ``raw`` and ``result_type`` as in pandas: ``raw=True`` passes each row as a numpy array (a
    row of ``df.values``); ``result_type`` (``"expand"``, ``"reduce"``, ``"broadcast"``) shapes the
    result as pandas does, from results computed on rowpool (``raw=True`` with
    ``errors="raise"`` only). A string, list or dict ``func`` runs in pandas in this process.

    ``init``: a callable run once in each worker (and in a replacement worker, and in the calling
    process when rows run there) before its first row; its return value is passed to ``func`` as
    the second positional argument, ``func(row, state, *args, **kwargs)``. Use it for big
    read-only objects (a model, a lookup table): built once per worker and never pickled, instead
    of shipped with every job inside ``func``. If it raises, :class:`rowpool.InitError`.

    Data larger than memory (see ``rowpool.files``): ``df`` may also be the path of a Parquet,
    CSV (also .gz) or Arrow IPC file, a directory or glob of Parquet files, a pyarrow Table,
    RecordBatchReader or Dataset, or a polars DataFrame; it is read in windows within
    ``max_memory`` (bytes or ``"1GB"``), only ``columns`` when given. The result mirrors the input
    (Arrow in, Arrow out; polars in, polars out; files give pandas). With ``output=`` (a .parquet,
    .csv, .csv.gz, .arrow or .feather path) the results go to that file in input order, the
    ``keep`` columns beside them, and the call returns a :class:`rowpool.files.FileJobSummary`;
    the file appears (atomically) only when complete; ``resume=True`` continues a killed job
    from its journal, ``overwrite=True`` replaces an existing file.

    Dask (``pip install "rowpool[dask]"``, see ``rowpool.dask``): a dask DataFrame ``df`` gives a
    lazy dask Series/DataFrame, each partition run on a warm Pool where it is computed; ``meta``
    as in ``map_partitions`` (default: ``func``'s result on the first row, kept, so ``func`` still
    runs once per row). ``cluster`` (a ``distributed.Client``) runs a pandas DataFrame or a file
    source on that cluster, one task per part, with the result (or ``output=`` part files and a
    manifest, resumable) the local path gives.
    """
    if cluster is not None or dask.is_collection(df):
        return _dask_job("rows", **locals())
    if output is not None or keep or not isinstance(df, pd.DataFrame):
        return _files_job("rows", **locals())
    if columns is not None:
        df = df[list(columns)]
    _replay.check(func, raw, result_type)
    if raw or result_type is not None or _replay.in_pandas(func):
        return _replay.apply(
            df,
            func,
            raw=raw,
            result_type=result_type,
            args=tuple(args),
            kwargs=dict(kwargs or {}),
            workers=workers,
            errors=errors,
            progress=progress,
            chunk_rows=chunk_rows,
            row_type=row_type,
            timeout=timeout,
            retries=retries,
            max_worker_memory=max_worker_memory,
            pool=pool,
            in_process=in_process,
            init=init,
        )
    result = run_rows(
        df,
        func,
        _assemble_rows,
        workers=workers,
        errors=errors,
        progress=progress,
        chunk_rows=chunk_rows,
        row_type=row_type,
        timeout=timeout,
        retries=retries,
        max_worker_memory=max_worker_memory,
        args=args,
        kwargs=kwargs,
        pool=pool,
        in_process=in_process,
        init=init,
    )
    if errors == "collect":
        return _results.like_apply_of(result[0], df), result[1]
    return _results.like_apply_of(result, df)


def run_rows(
    df,
    func,
    assemble,
    *,
    workers=None,
    errors="raise",
    progress=None,
    chunk_rows=None,
    row_type="row",
    timeout=None,
    retries=2,
    max_worker_memory=None,
    args=(),
    kwargs=None,
    pool=None,
    in_process=None,
    init=None,
):
    """``apply`` of an in-memory DataFrame, its per-chunk outcomes turned into the result by
    ``assemble(chunks, index)`` (``rowpool.map`` assembles the raw values)."""
    _check_job(df, func, errors, progress, chunk_rows, args, kwargs, timeout, retries, max_worker_memory)
    _checks.in_process(in_process, timeout=timeout, limit=max_worker_memory)
    _checks.init(init)
    _checks.row_type(row_type)
    _checks.pool(pool, Pool)
    workers = _checks.workers(workers) if pool is None else pool.workers
    if len(df) == 0 or df.shape[1] == 0:
        # pandas probes func with an empty Series to pick the result shape; do exactly as it does.
        state = () if init is None else (init(),)
        result = df.apply(func, axis=1, args=state + tuple(args), **(kwargs or {}))
        return (result, _failure_frame([], df.index)) if errors == "collect" else result
    table = InputTable(df, for_rows=True)
    spec = JobSpec.for_table(
        table,
        func,
        "rows",
        errors=errors,
        row_type=row_type,
        args=tuple(args),
        kwargs=dict(kwargs or {}),
        init=init,
    )
    return _execute(
        table,
        spec,
        assemble,
        pool=pool,
        workers=workers,
        chunk_rows=chunk_rows,
        progress=progress,
        timeout=timeout,
        retries=retries,
        max_worker_memory=max_worker_memory,
        in_process=in_process,
    )


def map_batches(
    df,
    func,
    *,
    workers=None,
    errors="raise",
    progress=None,
    chunk_rows=None,
    timeout=None,
    retries=2,
    max_worker_memory=None,
    args=(),
    kwargs=None,
    pool=None,
    output=None,
    columns=None,
    keep=(),
    max_memory="1GB",
    resume=False,
    overwrite=False,
    in_process=None,
    init=None,
    cluster=None,
    meta=None,
):
    """Calls ``func(chunk, *args, **kwargs)`` on consecutive row chunks of ``df`` in parallel.

    ``chunk`` is a DataFrame slice with the original columns and index; ``chunk_rows`` fixes its
    length (default: chosen by the scheduler). Results are combined in input order: Series and
    DataFrames with ``pandas.concat``; 1-D arrays with one value per row into a Series on
    ``df.index``; anything else into a Series with one value per chunk. A chunk whose worker dies
    is re-run up to ``retries`` times; ``timeout`` is in seconds per row of a chunk;
    ``max_worker_memory``, ``in_process`` and ``init`` (``func(chunk, state, *args, **kwargs)``) as
    in :func:`apply`.

    Files, Arrow and polars sources, ``output``, ``columns``, ``keep``, ``max_memory``, ``resume``
    and ``overwrite`` as in :func:`apply`; with ``output=`` or ``keep=``, ``func`` must return one
    row per input row. A dask DataFrame ``df``, ``meta`` and ``cluster`` as in :func:`apply`.
    """
    if cluster is not None or dask.is_collection(df):
        return _dask_job("batches", **locals())
    if output is not None or keep or not isinstance(df, pd.DataFrame):
        return _files_job("batches", **locals())
    if columns is not None:
        df = df[list(columns)]
    _check_job(df, func, errors, progress, chunk_rows, args, kwargs, timeout, retries, max_worker_memory)
    _checks.in_process(in_process, timeout=timeout, limit=max_worker_memory)
    _checks.init(init)
    _checks.pool(pool, Pool)
    workers = _checks.workers(workers) if pool is None else pool.workers
    table = InputTable(df)
    spec = JobSpec.for_table(
        table, func, "batches", errors=errors, args=tuple(args), kwargs=dict(kwargs or {}), init=init
    )
    if len(df) == 0:
        return _results.assemble_batches([], [], df.index)
    return _execute(
        table,
        spec,
        _assemble_batches,
        pool=pool,
        workers=workers,
        chunk_rows=chunk_rows,
        progress=progress,
        timeout=timeout,
        retries=retries,
        max_worker_memory=max_worker_memory,
        in_process=in_process,
    )
