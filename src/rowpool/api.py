"""The public functions: ``apply`` and ``map_batches``. Each routes its input: a pandas DataFrame
to ``rowpool._pandas.calls`` (with ``raw=``/``result_type=`` through ``_pandas.replay``), any other
source or an ``output=`` file to ``rowpool.files``, which runs the input's windows through these
same functions (passed to it: ``files`` never imports ``api``). Every argument is checked before a
worker starts."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .pool import Pool

Errors = Literal["raise", "coerce", "collect"]
FILE_OPTIONS = ("output", "columns", "keep", "max_memory", "resume", "overwrite")
DASK_OPTIONS = ("cluster", "meta")


def _is_frame(df: object) -> bool:
    import pandas as pd

    return isinstance(df, pd.DataFrame)


def _dask_job(call: Callable[..., Any], options: dict[str, Any]) -> Any:
    """A dask DataFrame (a lazy result), or ``cluster=``: see ``rowpool.dask``."""
    from . import dask

    mode = "rows" if call is apply else "batches"
    return dask.run(options.pop("df"), options.pop("func"), mode, **options)


def _is_dask(df: object) -> bool:
    from .dask import is_collection  # imports no dask

    return is_collection(df)


def _files_job(call: Callable[..., Any], options: dict[str, Any]) -> Any:
    """A job over a source larger than memory, or writing to a file: see ``rowpool.files``."""
    from . import files

    return files.run(options.pop("df"), options.pop("func"), call=call, **options)


def apply(
    df: Any,
    func: Callable[..., Any],
    *,
    workers: int | None = None,
    errors: Errors = "raise",
    progress: bool | None = None,
    chunk_rows: int | None = None,
    row_type: Literal["row", "series"] = "row",
    timeout: float | None = None,
    retries: int = 2,
    max_worker_memory: int | None = None,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    pool: Pool | None = None,
    output: str | os.PathLike[str] | None = None,
    columns: Sequence[Any] | None = None,
    keep: Sequence[str] | str = (),
    max_memory: int | str = "1GB",
    resume: bool = False,
    overwrite: bool = False,
    in_process: bool | None = None,
    init: Callable[[], Any] | None = None,
    raw: bool = False,
    result_type: Literal["expand", "reduce", "broadcast"] | None = None,
    cluster: Any = None,
    meta: Any = None,
) -> Any:
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
    cost). ``pool`` reuses a :class:`rowpool.Pool`'s warm workers. Without ``pool``, calls share
    the default pool: its workers are started by the first call that needs them (resized when
    ``workers`` differs) and stay warm for the next, until idle for 300 s
    (:func:`rowpool.set_idle_timeout`, or ``ROWPOOL_IDLE_TIMEOUT``), :func:`rowpool.shutdown` or
    interpreter exit.

    Faults: a worker that dies (SIGKILL, OOM, segfault, ``os._exit``) loses nothing: its chunk is
    re-run on a fresh worker, bisected down to the row that kills workers; that row is retried
    ``retries`` times, then raises :class:`rowpool.WorkerLost` (or becomes NA / a failure record
    with ``"coerce"``/``"collect"``). ``timeout`` (seconds per row, checked per chunk) stops a
    stuck worker and reports the row as :class:`rowpool.RowTimeout`. ``max_worker_memory`` (bytes
    of a worker's own resident memory; default: the pool's, else no limit) replaces a worker past
    it between chunks, and stops one passing it mid-chunk like a crashed worker, so a row that blows
    up memory is reported as ``WorkerLost`` instead of exhausting the machine.

    ``in_process``: ``None`` (default) runs a job in the calling process while workers would not
    finish it sooner (without ``pool=``, ``timeout`` and ``max_worker_memory``): the first rows run
    here and, once their cost projected over the rows left passes what starting workers (or
    handing the job to warm ones) costs plus those rows' share on the workers, the rest go to
    workers; ``func`` still runs once per row. ``False`` runs every row in a worker (isolating
    the caller from a ``func`` that crashes its process), ``True`` every row in the calling
    process (e.g. to debug ``func``).

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
    CSV (also .gz; .tsv tab-separated) or Arrow IPC file, a directory or glob of Parquet files, a
    pyarrow Table, RecordBatchReader or Dataset, or a polars DataFrame; it is read in windows within
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
    options = dict(locals())
    if cluster is not None or _is_dask(df):
        return _dask_job(apply, options)
    if output is not None or keep or not _is_frame(df):
        return _files_job(apply, options)
    from ._pandas import calls, replay

    for name in FILE_OPTIONS + DASK_OPTIONS + ("df", "func", "raw", "result_type"):
        del options[name]
    if columns is not None:
        df = df[list(columns)]
    replay.check(func, raw, result_type)
    if raw or result_type is not None or replay.in_pandas(func):
        options["args"], options["kwargs"] = tuple(args), dict(kwargs or {})
        return replay.apply(df, func, raw=raw, result_type=result_type, **options)
    return calls.apply(df, func, **options)


def map_batches(
    df: Any,
    func: Callable[..., Any],
    *,
    workers: int | None = None,
    errors: Errors = "raise",
    progress: bool | None = None,
    chunk_rows: int | None = None,
    timeout: float | None = None,
    retries: int = 2,
    max_worker_memory: int | None = None,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    pool: Pool | None = None,
    output: str | os.PathLike[str] | None = None,
    columns: Sequence[Any] | None = None,
    keep: Sequence[str] | str = (),
    max_memory: int | str = "1GB",
    resume: bool = False,
    overwrite: bool = False,
    in_process: bool | None = None,
    init: Callable[[], Any] | None = None,
    cluster: Any = None,
    meta: Any = None,
) -> Any:
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
    options = dict(locals())
    if cluster is not None or _is_dask(df):
        return _dask_job(map_batches, options)
    if output is not None or keep or not _is_frame(df):
        return _files_job(map_batches, options)
    from ._pandas import calls

    for name in FILE_OPTIONS + DASK_OPTIONS + ("df", "func"):
        del options[name]
    if columns is not None:
        df = df[list(columns)]
    return calls.map_batches(df, func, **options)
