"""``rowpool.apply(ddf, func)`` / ``map_batches(ddf, func)``: a lazy dask collection, like
``ddf.map_partitions``, each partition run on the warm Pool of the process that computes it.

Without ``meta=``, dask would infer it by calling ``func`` on fake data. Here ``func`` runs on the
first real row instead (in the calling process), the result's empty slice is the meta, and that
row's result is kept in the graph: the partition holding it runs only its other rows, so ``func``
still runs exactly once per row.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import call

UNSUPPORTED = ("pool", "workers", "output", "keep", "resume", "overwrite", "columns", "max_memory")


def _check(options: dict) -> None:
    given = [name for name in UNSUPPORTED if options.get(name) not in (None, (), False, "1GB")]
    if given:
        raise ValueError(
            f"{given[0]}= does not apply to a dask DataFrame: each partition runs on the pool of the "
            "Dask worker computing it (select columns on the dask DataFrame, write with to_parquet)"
        )
    if options.get("errors", "raise") == "collect":
        raise ValueError('errors="collect" does not apply to a dask DataFrame: use "raise" or "coerce"')


@dataclass(frozen=True)
class Known:
    """What the graph carries besides ``func``: the ``empty`` result (the meta) and ``kept``,
    (partition number, result of that partition's first row) or None. A plain object: dask would
    treat pandas objects passed to map_partitions as collections to align."""

    empty: object
    kept: tuple | None


def _run_partition(part, func, mode, options, known: Known, partition_info=None):
    """One partition's result on the pool here; a kept first-row result stands in for that row."""
    import pandas as pd

    from ._plugin import pool_here

    kept = known.kept
    if kept is not None and partition_info is not None and partition_info["number"] == kept[0]:
        rest = part.iloc[1:]
        if len(rest) == 0:
            return kept[1]
        return pd.concat([kept[1], _run_partition(rest, func, mode, options, Known(known.empty, None))])
    if len(part) == 0:
        return known.empty
    return call(mode)(part, func, pool=pool_here(), progress=False, **options)


def _first_row(ddf):
    """(partition number, the first row as a 1-row pandas DataFrame), or None when all are empty."""
    for number in range(ddf.npartitions):
        head = ddf.partitions[number].head(1, npartitions=1, compute=True)
        if len(head):
            return number, head
    return None


def _probe(ddf, func, mode: str, options: dict):
    """(meta, kept): ``func`` on the first real row, in this process where it can be."""
    first = _first_row(ddf)
    if first is None:  # no row at all: nothing to run func on; dask's meta of an empty frame
        return call(mode)(ddf._meta, func, in_process=True, progress=False, **options), None
    number, row = first
    in_process = options.get("timeout") is None and options.get("max_worker_memory") is None
    result = call(mode)(row, func, in_process=in_process, progress=False, **options)
    return result.iloc[:0], (number, result)


def apply_collection(ddf, func, mode: str, *, meta=None, **options):
    """The lazy result of ``func`` over every row (``mode="rows"``) or chunk (``"batches"``)."""
    _check(options)
    options.pop("progress", None)  # partitions run on workers: no bar there
    options.pop("in_process", None)
    for name in UNSUPPORTED:
        options.pop(name, None)
    if not callable(func):
        raise TypeError(f"func must be callable, not {type(func).__name__}")
    kept = None
    if meta is None:
        meta, kept = _probe(ddf, func, mode, options)
    return ddf.map_partitions(_run_partition, func, mode, options, Known(meta, kept), meta=meta)
