"""Jobs over an in-memory DataFrame: arguments checked (``_checks.job``), source, spec and sink
built (``rowpool._job``), before any worker starts; then run on ``pool`` or a temporary pool.

``options`` are the keyword arguments of ``rowpool.apply`` / ``map_batches`` for a DataFrame:
``workers``, ``pool``, ``errors``, ``progress``, ``chunk_rows``, ``row_type`` (apply only),
``timeout``, ``retries``, ``max_worker_memory``, ``args``, ``kwargs``, ``in_process``, ``init``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from .. import _checks
from .._job import Job
from .._sink import Sink
from .._source import Source
from .._spec import JobSpec, Options
from .._workers import WorkerPool
from . import assemble
from .sink import BatchesSink, RowsSink, ValuesSink, with_failures
from .source import FrameSource


def _checked(df: Any, func: Any, options: dict) -> tuple[Options, WorkerPool | None, int]:
    """Checks every argument; returns how the job runs, its pool and its number of workers."""
    pool, workers = options.pop("pool", None), options.pop("workers", None)
    run = _checks.job(df, func, **options)
    return run, pool, _checks.pool_and_workers(pool, workers, WorkerPool)


def _run(
    df: pd.DataFrame, func: Callable[..., Any], mode: str, make_sink: Callable[[str], Sink], options: dict
) -> Any:
    return run_source(df, FrameSource(df, for_rows=mode == "rows"), func, mode, make_sink, options)


def run_source(
    df: pd.DataFrame,
    source: Source,
    func: Callable[..., Any],
    mode: str,
    make_sink: Callable[[str], Sink],
    options: dict,
) -> Any:
    """The job of ``func`` over ``source`` (whose rows are ``df``'s: the checks look at it), its
    result made by ``make_sink(errors)``."""
    run, pool, workers = _checked(df, func, options)
    errors = options.get("errors", "raise")
    spec = JobSpec(
        func,
        mode,
        source.schema,
        errors=errors,
        row_type=options.get("row_type", "row"),
        args=tuple(options.get("args", ())),
        kwargs=dict(options.get("kwargs") or {}),
        init=options.get("init"),
    )
    return Job(source, spec, make_sink(errors), run).run(pool, workers=workers)


def _in_pandas(df: pd.DataFrame, func: Callable[..., Any], options: dict) -> Any:
    """``df.apply(func, axis=1)`` run by pandas: for a frame without rows or columns, pandas probes
    ``func`` with an empty Series to pick the result's shape; do exactly as it does."""
    state = () if options.get("init") is None else (options["init"](),)
    args = state + tuple(options.get("args", ()))
    result = df.apply(func, axis=1, args=args, **(options.get("kwargs") or {}))
    return assemble.like_apply_of(result, df)


def _empty(df: pd.DataFrame) -> bool:
    return len(df) == 0 or df.shape[1] == 0


def apply(df: pd.DataFrame, func: Callable[..., Any], **options: Any) -> Any:
    """``rowpool.apply`` of a DataFrame: pandas' own result of ``df.apply(func, axis=1)``."""
    if isinstance(df, pd.DataFrame) and _empty(df):
        _checked(df, func, options)
        result = _in_pandas(df, func, options)
        return with_failures(result, options.get("errors", "raise"), [], df.index)
    return _run(df, func, "rows", lambda errors: RowsSink(df, errors), options)


def apply_values(df: pd.DataFrame, func: Callable[..., Any], **options: Any) -> Any:
    """``func``'s result on every row, in a list in row order, before any dtype inference (with
    the failures frame for ``errors="collect"``)."""
    if isinstance(df, pd.DataFrame) and _empty(df):
        _checked(df, func, options)
        return with_failures([], options.get("errors", "raise"), [], df.index)
    return _run(df, func, "rows", lambda errors: ValuesSink(df.index, errors), options)


def map_batches(df: pd.DataFrame, func: Callable[..., Any], **options: Any) -> Any:
    """``rowpool.map_batches`` of a DataFrame."""
    if isinstance(df, pd.DataFrame) and len(df) == 0:
        _checked(df, func, options)
        return assemble.assemble_batches([], [], df.index)
    return _run(df, func, "batches", lambda errors: BatchesSink(df.index, errors), options)
