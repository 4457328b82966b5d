"""Argument checks of the public API, all in one place: each raises TypeError or ValueError naming
the argument, before any worker starts."""

from __future__ import annotations

import numbers

from ._launch import default_workers
from ._spec import Options

ERRORS = ("raise", "coerce", "collect")
ROW_TYPES = ("row", "series")
# max_worker_memory counts the worker itself: an interpreter that imported pandas and pyarrow holds
# about 110 MB before its first row. A lower limit would blame whichever row ran first.
MIN_WORKER_MEMORY = 128 << 20
# What one worker takes at least: two fds in the parent (its queue and its pidfd), and the memory of
# an interpreter that imported rowpool and numpy.
WORKER_FDS = 2
WORKER_FOOTPRINT = 30 << 20
RESERVED_FDS = 256  # left to the rest of the parent process
MIN_MEMORY_BUDGET = 1 << 20


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def workers(value) -> int:
    """``workers``: a positive int, or None for every CPU this process may run on."""
    if value is None:
        return default_workers()
    if not _is_int(value):
        raise TypeError(f"workers must be a positive int or None, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"workers must be >= 1, got {value}")
    _worker_capacity(value)
    return value


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo", "rb") as meminfo:
            for line in meminfo:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _worker_capacity(workers: int) -> None:
    """Refuses more workers than the fd limit or the available memory can hold: spawning them
    would fail half-way (or swap the machine to a halt) after many started."""
    import resource

    fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    limits = []
    if fd_limit != resource.RLIM_INFINITY and workers * WORKER_FDS > fd_limit - RESERVED_FDS:
        at_most = max(1, (fd_limit - RESERVED_FDS) // WORKER_FDS)
        limits.append(f"{WORKER_FDS} file descriptors each, {fd_limit} allowed: at most {at_most}")
    available = _available_memory()
    if available is not None and workers * WORKER_FOOTPRINT > available:
        at_most = max(1, available // WORKER_FOOTPRINT)
        limits.append(
            f"about {WORKER_FOOTPRINT >> 20} MiB each, {available >> 20} MiB available: at most {at_most}"
        )
    if limits:
        raise ValueError(
            f"workers={workers} is more than this machine can hold ({'; '.join(limits)}); "
            f"it has {default_workers()} CPUs"
        )


def pool(value, pool_type: type) -> None:
    """``pool``: a ``pool_type`` (``rowpool.Pool``, passed in: this module imports no Pool) or None."""
    if value is not None and not isinstance(value, pool_type):
        raise TypeError(f"pool must be a rowpool.Pool or None, not {type(value).__name__}")


def max_worker_memory(limit) -> int | None:
    """``max_worker_memory``: bytes (at least 128 MiB) or None."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral):
        raise TypeError(f"max_worker_memory must be an int (bytes) or None, not {type(limit).__name__}")
    if limit < MIN_WORKER_MEMORY:
        raise ValueError(
            f"max_worker_memory is in bytes and must be at least {MIN_WORKER_MEMORY} (128 MiB), got "
            f"{limit}: it counts the worker itself, which holds about 110 MB once it imported pandas"
        )
    return int(limit)


def memory_budget(value) -> int:
    """``memory_budget``: bytes, at least 1 MiB."""
    if not _is_int(value):
        raise TypeError("memory_budget must be an int (bytes)")
    if value < MIN_MEMORY_BUDGET:
        raise ValueError(f"memory_budget must be at least 1 MiB, got {value}")
    return value


def frame(df) -> None:
    """``df``: a pandas DataFrame (pandas is imported only when this check runs)."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, not {type(df).__name__}")


def call(func, errors, progress, chunk_rows, args, kwargs) -> None:
    """The arguments every job takes besides its input."""
    if not callable(func):
        raise TypeError(f"func must be callable, not {type(func).__name__}")
    if errors not in ERRORS:
        raise ValueError(f"errors must be one of {ERRORS}, got {errors!r}")
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, not {type(progress).__name__}")
    if chunk_rows is not None:
        if not _is_int(chunk_rows):
            raise TypeError(f"chunk_rows must be a positive int or None, not {type(chunk_rows).__name__}")
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"args must be a tuple, not {type(args).__name__}")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError(f"kwargs must be a dict or None, not {type(kwargs).__name__}")


def recovery(timeout, retries, limit=None) -> None:
    """``timeout`` (seconds per row or None), ``retries`` (>= 0) and ``max_worker_memory``."""
    max_worker_memory(limit)
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
    if not _is_int(retries):
        raise TypeError(f"retries must be an int, not {type(retries).__name__}")
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")


def in_process(value, *, timeout, limit) -> None:
    """``in_process``: True, False or None; True cannot enforce ``timeout`` or ``max_worker_memory``."""
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"in_process must be True, False or None, not {type(value).__name__}")
    if value and (timeout is not None or limit is not None):
        raise ValueError(
            "in_process=True cannot enforce timeout or max_worker_memory (only a worker can be stopped)"
        )


def init(value) -> None:
    """``init``: a callable or None."""
    if value is not None and not callable(value):
        raise TypeError(f"init must be callable or None, not {type(value).__name__}")


def row_type(value) -> None:
    """``row_type``: how a row reaches the function, one of ``ROW_TYPES``."""
    if value not in ROW_TYPES:
        raise ValueError(f"row_type must be one of {ROW_TYPES}, got {value!r}")


# job() takes arguments named like these checks.
_check_in_process, _check_init, _check_row_type = in_process, init, row_type


def pool_and_workers(pool_value, workers_value, pool_type: type) -> int:
    """``pool`` (a ``pool_type`` or None) and ``workers``: how many workers the job runs on."""
    pool(pool_value, pool_type)
    return workers(workers_value) if pool_value is None else pool_value.workers


def job(
    df,
    func,
    *,
    errors="raise",
    progress=None,
    chunk_rows=None,
    row_type="row",
    timeout=None,
    retries=2,
    max_worker_memory=None,
    args=(),
    kwargs=None,
    in_process=None,
    init=None,
) -> Options:
    """Every argument of a job over a DataFrame but the pool: how it runs, as an Options record."""
    frame(df)
    call(func, errors, progress, chunk_rows, args, kwargs)
    recovery(timeout, retries, max_worker_memory)
    _check_in_process(in_process, timeout=timeout, limit=max_worker_memory)
    _check_init(init)
    _check_row_type(row_type)
    return Options(chunk_rows, progress, timeout, retries, max_worker_memory, in_process)
