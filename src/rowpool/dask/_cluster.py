"""``rowpool.apply(source, func, cluster=client)``: the parts of a source as Dask tasks, each run on
its worker's warm Pool; results gathered in input order, or written as part files (``_manifest``).

Dask places the tasks and re-runs those of a worker that died. A pandas frame's parts are
scattered to the workers; when a worker holding one dies, that data is gone with it, so the part is
scattered again and resubmitted here (at most ``MAX_RESUBMITS`` times). With ``errors="raise"``
the failure of the earliest failing part is raised, as the local path raises the earliest row's.
"""

from __future__ import annotations

import time

from ..errors import EngineError
from ..files._api import parse_size
from ..files._job import budget
from ..progress import make_progress
from . import _tasks
from ._manifest import PartFiles, summary
from ._parts import PARTS_PER_THREAD, check_file_source, even_parts, plan_file
from ._plugin import PLUGIN_NAME, RowpoolPlugin

MAX_RESUBMITS = 3
NOT_ON_CLUSTER = ("pool", "workers", "in_process")


def _check(client, options: dict) -> None:
    from distributed import Client

    if not isinstance(client, Client):
        raise TypeError(f"cluster must be a distributed.Client, not {type(client).__name__}")
    for name in NOT_ON_CLUSTER:
        if options.pop(name, None) is not None:
            raise ValueError(
                f"{name}= does not apply with cluster=: each Dask worker runs its parts on its own "
                "warm Pool, one rowpool process per worker thread"
            )


def _lost(future, error) -> bool:
    """True when a part failed because of the cluster (a worker or its data gone), not its rows."""
    from distributed import KilledWorker

    return future.status == "cancelled" or isinstance(error, KilledWorker)


def drive(client, submit, parts, bar=None) -> dict:
    """Runs ``submit(part)`` futures until each part has a result: {part number: result}. A lost
    part is resubmitted; with a part's own error, the later parts are cancelled and the earliest
    failing part's error is raised once every part before it finished."""
    from distributed import as_completed

    futures = {submit(part): part for part in parts}
    attempts = dict.fromkeys((p.number for p in parts), 0)
    results, failed = {}, {}
    running = as_completed(list(futures))
    for future in running:
        part = futures.pop(future, None)
        if part is None:  # cancelled here after an earlier part failed
            continue
        if future.status == "finished":
            results[part.number] = future.result()
            if bar is not None:
                bar.update(part.end - part.begin)
        else:
            error = future.exception()  # None when cancelled (its data or worker gone)
            if _lost(future, error) and attempts[part.number] < MAX_RESUBMITS:
                attempts[part.number] += 1
                retry = submit(part)
                futures[retry] = part
                running.add(retry)
                continue
            failed[part.number] = error or EngineError(
                f"rows {part.begin} to {part.end - 1} were lost with their Dask worker "
                f"{MAX_RESUBMITS + 1} times"
            )
            for later, other in list(futures.items()):
                if other.number > min(failed):
                    later.cancel()
                    futures.pop(later)
        future.release()
    if failed:
        raise failed[min(failed)]
    return results


def _concat(pieces: list, errors: str):
    import pandas as pd

    if errors != "collect":
        return pd.concat(pieces) if len(pieces) > 1 else pieces[0]
    results = [r for r, _f in pieces]
    return _concat(results, "raise"), pd.concat([f for _r, f in pieces])


def _frame_parts(client, frame):
    """submit-ready loader: the part's slice of ``frame``, scattered to a worker (again when lost)."""

    def load(part):
        failures = 0
        while True:
            try:
                return client.scatter(frame.iloc[part.begin : part.end], hash=False)
            except OSError:  # distributed's CommClosedError: the worker it went to died meanwhile
                failures += 1
                if failures > MAX_RESUBMITS:
                    raise

    return load


def run_on_cluster(
    source, func, mode, client, *, output=None, columns=None, keep=(), max_memory="1GB",
    resume=False, overwrite=False, progress=None, **options,
):  # fmt: skip
    """The job on ``client``'s cluster: the result as the local path gives it, or with ``output=``
    a FileJobSummary of the part files written."""
    import pandas as pd

    _check(client, options)
    if not callable(func):
        raise TypeError(f"func must be callable, not {type(func).__name__}")
    errors = options.get("errors", "raise")
    client.register_plugin(RowpoolPlugin(), name=PLUGIN_NAME)  # warm pools on every worker
    count = PARTS_PER_THREAD * max(1, sum(client.nthreads().values()))
    keep = [keep] if isinstance(keep, str) else list(keep)
    if keep and output is None:
        raise ValueError("keep= names columns copied to an output file: pass output= too")
    started = time.perf_counter()
    if isinstance(source, pd.DataFrame):
        frame = source if columns is None or output is not None else source[list(columns)]
        parts = even_parts(len(frame), count)
        load = _frame_parts(client, frame)
        func_columns = list(columns) if columns is not None else list(source.columns)
        fingerprint = {"pandas": [len(source), [str(c) for c in source.columns]]}
        run_part = lambda part: client.submit(  # noqa: E731
            _tasks.run_frame, load(part), func, mode, options, part.begin, pure=False
        )
        write = lambda part, path: client.submit(  # noqa: E731
            _tasks.write_part, load(part), path, func, mode, options, keep, func_columns, pure=False
        )
    else:
        path = check_file_source(source)
        window_bytes = budget(parse_size(max_memory))[1]
        reading = {"columns": columns, "keep": keep, "window_bytes": window_bytes}
        parts, fingerprint = plan_file(path, columns, keep, window_bytes, count)
        run_part = lambda part: client.submit(  # noqa: E731
            _tasks.run_file_part, path, part, func, mode, options, reading, pure=False
        )
        write = lambda part, out: client.submit(  # noqa: E731
            _tasks.write_file_part, path, part, out, func, mode, options, reading, pure=False
        )
    rows = None if parts[-1].end < 0 else parts[-1].end
    if output is None:
        bar = make_progress(progress, rows)
        try:
            pieces = drive(client, run_part, parts, bar)
        finally:
            if bar is not None:
                bar.close()
        return _concat([pieces[p.number] for p in parts], errors)
    files = PartFiles.open(output, fingerprint, parts, resume=resume, overwrite=overwrite)
    todo = files.pending()
    done = drive(client, lambda part: write(part, files.part_path(part)), todo)
    for part in todo:
        files.commit(part, done[part.number])
    manifest = files.finish()
    resumed = manifest["rows"] - sum(done[p.number].rows for p in todo)
    return summary(manifest, errors, time.perf_counter() - started, resumed)
