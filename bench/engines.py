"""The engines: rowpool and its peers, each computing ``df.apply(job.row_fn, axis=1)`` its own way.

An engine is a ``session(job, workers)`` context manager that yields ``call(df) -> result``. A cold
run times the whole ``with`` block (pool start-up included, as a user calling the library once pays
it); the ``start`` scenario opens the session once and times warm one-row calls.

Imports of the engine's package happen inside the session, in the measured process: a peer that
fails to import is an ERROR row, never a crash of the suite. ``env="pandas2"`` engines run under
the interpreter of ``bench/.venv-pandas2`` (their releases fail to import on pandas 3).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

import pandas as pd

from bench.scenarios import Job, apply_rows, mixed_frame

Call = Callable[[pd.DataFrame], object]
Session = Callable[[Job, int], AbstractContextManager[Call]]


@dataclass(frozen=True)
class Engine:
    """One way of running a job. ``packages``: distributions whose versions the report lists."""

    name: str
    session: Session
    summary: str
    env: str = "main"  # "main" (the runner's python) or "pandas2" (bench/.venv-pandas2)
    smoke: bool = False  # needs only what rowpool's test extras install
    parallel: bool = True  # False for the one-process baselines (no efficiency reported)
    packages: tuple[str, ...] = ()
    warm_session: Session | None = None  # for the "start" scenario, if not ``session``
    warm: bool = False  # the session starts its workers before the timer (a warm pool)
    groups: bool = False  # runs group jobs (``Job.group_by``): groupby-apply
    scenarios: tuple[str, ...] | None = None  # runs only on these scenarios (None: on every one)
    rerun: bool = False  # a first call on the same input runs before the timer: the second is timed

    def latency_session(self) -> Session:
        """The session used to time warm one-row calls."""
        return self.warm_session or self.session


def _chunk_fn(job: Job) -> Callable[[pd.DataFrame], pd.Series]:
    """A picklable ``chunk -> chunk.apply(row_fn, axis=1)`` for pools that pickle by reference."""
    return functools.partial(apply_rows, row_fn=job.row_fn)


def _concat(parts: list) -> pd.Series:
    """Chunk results back into one result, in order (the empty job gives an empty float Series)."""
    return pd.concat(parts) if parts else pd.Series([], dtype="float64")


# ----------------------------------------------------------------------------- serial
@contextlib.contextmanager
def serial_session(job: Job, workers: int) -> Iterator[Call]:
    """The reference: plain ``df.apply(f, axis=1)`` (or ``df.groupby(by).apply(f)``) in one process."""
    if job.group_by:
        yield lambda df: df.groupby(job.group_by).apply(job.row_fn, include_groups=False)
    else:
        yield lambda df: df.apply(job.row_fn, axis=1)


# ----------------------------------------------------------------------------- stdlib pools
def _mp_session(method: str) -> Session:
    @contextlib.contextmanager
    def session(job: Job, workers: int) -> Iterator[Call]:
        import multiprocessing

        fn = _chunk_fn(job)
        with multiprocessing.get_context(method).Pool(workers) as pool:
            yield lambda df: _concat(list(pool.imap(fn, job.chunks(df, workers))))

    session.__doc__ = f"``multiprocessing.Pool`` ({method}): chunk generator + ``imap`` + concat."
    return session


@contextlib.contextmanager
def futures_session(job: Job, workers: int) -> Iterator[Call]:
    """``concurrent.futures.ProcessPoolExecutor`` (default start method) + ``map`` + concat."""
    from concurrent.futures import ProcessPoolExecutor

    fn = _chunk_fn(job)
    with ProcessPoolExecutor(max_workers=workers) as executor:
        yield lambda df: _concat(list(executor.map(fn, job.chunks(df, workers))))


@contextlib.contextmanager
def joblib_session(job: Job, workers: int) -> Iterator[Call]:
    """joblib ``Parallel`` (loky backend, default auto-memmapping) over the same chunks."""
    from joblib import Parallel, delayed

    fn = delayed(_chunk_fn(job))
    with Parallel(n_jobs=workers) as parallel:
        yield lambda df: _concat(parallel(fn(chunk) for chunk in job.chunks(df, workers)))


# ----------------------------------------------------------------------------- dask / swifter
@contextlib.contextmanager
def dask_session(job: Job, workers: int) -> Iterator[Call]:
    """dask.dataframe ``from_pandas`` + ``apply(axis=1)``, processes scheduler."""
    import dask.dataframe as dd

    def call(df: pd.DataFrame):
        rows = job.chunk_length(len(df), workers)
        ddf = dd.from_pandas(df, chunksize=rows, sort=False)
        out = ddf.apply(job.row_fn, axis=1, meta=(None, job.result_dtype))
        return out.compute(scheduler="processes", num_workers=workers)

    yield call


# ----------------------------------------------------------------------------- on a Dask cluster
CLUSTER_PARTITIONS_PER_WORKER = 4


@contextlib.contextmanager
def local_cluster(workers: int):
    """A Dask LocalCluster of ``workers`` worker processes x 1 thread, on loopback, and its client."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _cluster_frame(df: pd.DataFrame, workers: int):
    import dask.dataframe as dd

    return dd.from_pandas(df, npartitions=CLUSTER_PARTITIONS_PER_WORKER * workers, sort=False)


def _cluster_session(compute_of: Callable, warm: bool) -> Session:
    """A session computing ``compute_of(job)(ddf)`` on a LocalCluster; ``warm``: a tiny job first
    on the cluster scenario's kind of frame (every worker imports pandas and the scenario module,
    rowpool's Pools start)."""

    @contextlib.contextmanager
    def session(job: Job, workers: int) -> Iterator[Call]:
        lazy = compute_of(job)
        with local_cluster(workers) as client:
            if warm:
                tiny = pd.DataFrame({"v": range(4 * workers)})
                client.compute(_cluster_frame(tiny, workers).map_partitions(len)).result()
                client.compute(lazy(_cluster_frame(mixed_frame(64), workers))).result()
            yield lambda df: client.compute(lazy(_cluster_frame(df, workers))).result()

    return session


def _dask_map_partitions(job: Job) -> Callable:
    """dask's own way: ``ddf.map_partitions(lambda p: p.apply(f, axis=1))``."""
    fn = _chunk_fn(job)
    return lambda ddf: ddf.map_partitions(fn, meta=(None, job.result_dtype))


def _rowpool_on_dask(job: Job) -> Callable:
    """``rowpool.apply(ddf, f, meta=...)``: each partition on its Dask worker's warm rowpool Pool
    (one process per worker thread)."""
    import rowpool

    return lambda ddf: rowpool.apply(ddf, job.row_fn, meta=(None, job.result_dtype))


@contextlib.contextmanager
def swifter_session(job: Job, workers: int) -> Iterator[Call]:
    """swifter ``df.swifter.apply(f, axis=1)``: it may vectorize, or use dask, or plain pandas."""
    import swifter  # noqa: F401  (registers the accessor)

    def call(df: pd.DataFrame):
        acc = df.swifter.progress_bar(False).set_npartitions(workers * 4)
        return acc.set_dask_scheduler("processes").apply(job.row_fn, axis=1)

    yield call


# ----------------------------------------------------------------------------- pandas-2 peers
@contextlib.contextmanager
def pandarallel_session(job: Job, workers: int) -> Iterator[Call]:
    """pandarallel ``df.parallel_apply(f, axis=1)`` (fork, /dev/shm transfer)."""
    from pandarallel import pandarallel

    pandarallel.initialize(nb_workers=workers, progress_bar=False, verbose=0)
    yield lambda df: df.parallel_apply(job.row_fn, axis=1)


@contextlib.contextmanager
def mapply_session(job: Job, workers: int) -> Iterator[Call]:
    """mapply ``df.mapply(f, axis=1)`` (pathos/multiprocess)."""
    import mapply

    mapply.init(n_workers=workers, progressbar=False)
    yield lambda df: df.mapply(job.row_fn, axis=1)


@contextlib.contextmanager
def parallel_pandas_session(job: Job, workers: int) -> Iterator[Call]:
    """parallel-pandas ``df.p_apply(f, axis=1)``."""
    from parallel_pandas import ParallelPandas

    ParallelPandas.initialize(n_cpu=workers, disable_pr_bar=True)
    yield lambda df: df.p_apply(job.row_fn, axis=1)


# ----------------------------------------------------------------------------- rowpool
def rowpool_file_call(job: Job, workers: int, pool=None) -> Call:
    """rowpool on a file scenario: ``rowpool.apply(path, f, output=..., max_memory=...)``; the
    result is read back from the output for the comparison (after the timed window would be
    better, but the output is small: one float per row)."""
    import tempfile

    import rowpool

    def call(path: str):
        with tempfile.TemporaryDirectory(prefix="rowpool-bench-out-") as directory:
            output = f"{directory}/out.parquet"
            options = {"pool": pool} if pool is not None else {"workers": workers}
            options.update(output=output, max_memory=job.max_memory, progress=False)
            rowpool.apply(path, job.row_fn, **options)
            return pd.read_parquet(output)["result"].rename(None)

    return call


@contextlib.contextmanager
def rowpool_session(job: Job, workers: int) -> Iterator[Call]:
    """rowpool, as a user calls it once: ``rowpool.apply`` (``map_batches`` for batch jobs)."""
    import rowpool

    if job.max_memory is not None:
        yield rowpool_file_call(job, workers)
    elif job.group_by:
        yield lambda df: rowpool.groupby_apply(
            df, job.group_by, job.row_fn, workers=workers, include_groups=False
        )
    elif job.batches:
        fn = _chunk_fn(job)
        yield lambda df: rowpool.map_batches(df, fn, workers=workers, chunk_rows=job.chunk_rows)
    else:
        yield lambda df: rowpool.apply(df, job.row_fn, workers=workers)


def _warm_up(chunk: pd.DataFrame) -> int:
    """A no-op batch: running it makes every worker import this module (and so pandas and the
    scenarios), as a warm pool would have done already."""
    return len(chunk)


@contextlib.contextmanager
def rowpool_pool_session(job: Job, workers: int) -> Iterator[Call]:
    """rowpool with warm workers: ``with rowpool.Pool(workers) as pool: pool.apply(df, f)``, the
    pool warmed by a tiny job before anything is timed."""
    import rowpool

    with rowpool.Pool(workers=workers) as pool:
        pool.map_batches(pd.DataFrame({"x": range(4 * workers)}), _warm_up, chunk_rows=1)
        if job.max_memory is not None:
            yield rowpool_file_call(job, workers, pool)
        elif job.group_by:
            yield lambda df: rowpool.groupby_apply(
                df, job.group_by, job.row_fn, pool=pool, include_groups=False
            )
        elif job.batches:
            fn = _chunk_fn(job)
            yield lambda df: pool.map_batches(df, fn, chunk_rows=job.chunk_rows)
        else:
            yield lambda df: pool.apply(df, job.row_fn)


ENGINES: dict[str, Engine] = {
    e.name: e
    for e in (
        Engine(
            "serial",
            serial_session,
            "df.apply(f, axis=1), one process",
            smoke=True,
            parallel=False,
            groups=True,
        ),
        Engine(
            "rowpool",
            rowpool_session,
            "rowpool.apply / map_batches (start: rowpool.Pool)",
            smoke=True,
            packages=("rowpool",),
            warm_session=rowpool_pool_session,
            groups=True,
        ),
        Engine(
            "rowpool-again",
            rowpool_session,
            "rowpool.apply / map_batches called twice, the second timed (the default pool's workers "
            "stay warm between calls)",
            smoke=True,
            packages=("rowpool",),
            warm=True,
            rerun=True,
        ),
        Engine(
            "rowpool-pool",
            rowpool_pool_session,
            "rowpool.Pool (warm workers, started before the timer) + pool.apply / map_batches",
            smoke=True,
            packages=("rowpool",),
            warm=True,
            groups=True,
        ),
        Engine("mp-fork", _mp_session("fork"), "multiprocessing.Pool (fork), chunks + imap", smoke=True),
        Engine(
            "mp-spawn",
            _mp_session("spawn"),
            "multiprocessing.Pool (spawn), chunks + imap",
            smoke=True,
        ),
        Engine(
            "futures",
            futures_session,
            "concurrent.futures.ProcessPoolExecutor, chunks + map",
            smoke=True,
        ),
        Engine("joblib", joblib_session, "joblib.Parallel (loky), chunks", packages=("joblib",)),
        Engine(
            "dask",
            dask_session,
            "dask.dataframe apply(axis=1), processes scheduler",
            packages=("dask",),
        ),
        Engine(
            "rowpool-cluster",
            _cluster_session(_rowpool_on_dask, warm=False),
            "rowpool.apply(dask DataFrame) on a LocalCluster (workers x 1 thread), cluster start timed",
            smoke=True,
            packages=("rowpool", "distributed"),
            scenarios=("cluster",),
        ),
        Engine(
            "dask-cluster",
            _cluster_session(_dask_map_partitions, warm=False),
            "dask map_partitions(lambda p: p.apply(f, axis=1)) on a LocalCluster, cluster start timed",
            smoke=True,
            packages=("dask", "distributed"),
            scenarios=("cluster",),
        ),
        Engine(
            "rowpool-cluster-warm",
            _cluster_session(_rowpool_on_dask, warm=True),
            "rowpool-cluster with the cluster up and its Pools warm before the timer",
            packages=("rowpool", "distributed"),
            scenarios=("cluster",),
            warm=True,
        ),
        Engine(
            "dask-cluster-warm",
            _cluster_session(_dask_map_partitions, warm=True),
            "dask-cluster with the cluster up and warm before the timer",
            packages=("dask", "distributed"),
            scenarios=("cluster",),
            warm=True,
        ),
        Engine(
            "swifter",
            swifter_session,
            "swifter apply(axis=1): vectorized if it can, else dask processes or pandas",
            packages=("swifter",),
        ),
        Engine(
            "serial-pd2",
            serial_session,
            "df.apply(f, axis=1) under pandas 2 (baseline of the pandas-2 peers)",
            env="pandas2",
            parallel=False,
        ),
        Engine(
            "pandarallel",
            pandarallel_session,
            "pandarallel parallel_apply(axis=1)",
            env="pandas2",
            packages=("pandarallel",),
        ),
        Engine("mapply", mapply_session, "mapply mapply(axis=1)", env="pandas2", packages=("mapply",)),
        Engine(
            "parallel-pandas",
            parallel_pandas_session,
            "parallel-pandas p_apply(axis=1)",
            env="pandas2",
            packages=("parallel-pandas",),
        ),
    )
}
