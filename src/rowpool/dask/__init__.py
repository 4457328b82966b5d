"""rowpool on Dask: a dask DataFrame in, a lazy dask collection out; or any source on a Dask cluster.

    rowpool.apply(ddf, func)                       # lazy, like ddf.map_partitions
    rowpool.apply(df_or_path, func, cluster=client) # pandas result, identical to the local path
    rowpool.apply("in/*.parquet", func, cluster=client, output="out.parquet", resume=True)

Each Dask worker keeps one warm :class:`rowpool.Pool` (``RowpoolPlugin``) with as many rowpool
processes as the Dask worker has threads; its tasks run one after another on that pool, so each node
keeps rowpool's memory behaviour, fault recovery and lazy C++ rows while Dask does placement,
retries and the dashboard.

Memory limits, measured (``bench/nanny_memory.py``, distributed 2026.8, Linux): the nanny's
``memory_limit`` counts only the Dask worker process itself (psutil RSS of that pid). A child of
the worker holding 3x the limit was left alone for 10 s, while the same allocation inside the
worker process got it restarted within seconds. So rowpool counts its children against the limit
itself: a Dask worker with a ``memory_limit`` gets a Pool whose ``max_worker_memory`` is
``CHILDREN_SHARE`` of that limit split over its rowpool processes (see ``_plugin``); a child past
it is replaced, and a row that blows it up is reported like a crashed worker.

Modules: ``_plugin`` (the warm Pool per Dask worker), ``_collection`` (the lazy dask DataFrame
path), ``_parts`` (a source cut into parts, read on a worker), ``_cluster`` (``cluster=``: parts as
tasks, results gathered or written as part files with a committed manifest).
Importing this package does not import dask; each entry point imports it (``require``).
"""

from __future__ import annotations

INSTALL_HINT = 'rowpool\'s Dask backend needs dask and distributed: pip install "rowpool[dask]"'


class DaskMissing(ImportError):
    """dask or distributed is not installed; the message says what to install."""


def require(distributed: bool = True) -> None:
    """Imports dask (and distributed), or raises :class:`DaskMissing` saying what to install."""
    try:
        import dask.dataframe  # noqa: F401

        if distributed:
            import distributed as _distributed  # noqa: F401
    except ImportError as error:
        raise DaskMissing(f"{INSTALL_HINT} ({error})") from error


def call(mode: str):
    """The public function a partition runs through on a Dask worker: ``rowpool.apply``
    (``mode="rows"``) or ``rowpool.map_batches``, like any user code would."""
    import rowpool

    return rowpool.apply if mode == "rows" else rowpool.map_batches


def is_collection(obj) -> bool:
    """True for a dask DataFrame (checked by the type's module: dask is not imported for this)."""
    module = type(obj).__module__
    return module.split(".", 1)[0] in ("dask", "dask_expr") and hasattr(obj, "map_partitions")


def run(df, func, mode: str, *, cluster=None, meta=None, **options):
    """The job of ``rowpool.apply`` (``mode="rows"``) or ``map_batches`` (``"batches"``) over a
    dask DataFrame (lazy result) or, with ``cluster=`` (a ``distributed.Client``), over a pandas
    DataFrame or a file source run on that cluster."""
    if is_collection(df):
        if cluster is not None:
            raise ValueError(
                "cluster= is for pandas DataFrames and files; a dask DataFrame runs where "
                "its own scheduler runs it (compute it with that client)"
            )
        require(distributed=False)
        from ._collection import apply_collection

        return apply_collection(df, func, mode, meta=meta, **options)
    if meta is not None:
        raise ValueError("meta= applies to a dask DataFrame input only")
    require()
    from ._cluster import run_on_cluster

    return run_on_cluster(df, func, mode, cluster, **options)


def __getattr__(name: str):
    if name == "RowpoolPlugin":
        require()
        from ._plugin import RowpoolPlugin

        return RowpoolPlugin
    raise AttributeError(f"module 'rowpool.dask' has no attribute {name!r}")


__all__ = ["DaskMissing", "RowpoolPlugin", "is_collection", "require", "run"]
