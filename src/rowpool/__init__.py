"""rowpool: run a slow Python function over every row of a huge pandas table on all cores.

    >>> import rowpool
    >>> result = rowpool.apply(df, lambda row: row["a"] * 2 + row["b"])   # == df.apply(f, axis=1)
    >>> with rowpool.Pool(workers=8) as pool:
    ...     result = pool.apply(df, f)

See ``rowpool.apply``, ``rowpool.map_batches``, ``rowpool.map``, ``rowpool.groupby_apply``,
``rowpool.Pool``, ``rowpool.engine`` and the accessors ``df.rowpool`` / ``series.rowpool``.
Calls without ``pool=`` reuse warm workers (the default pool) until they are idle for 300 s
(``rowpool.set_idle_timeout``, ``ROWPOOL_IDLE_TIMEOUT``); ``rowpool.shutdown()`` ends them now.
"""

from __future__ import annotations

from . import _launch
from .errors import (
    BudgetExceeded,
    EngineError,
    InitError,
    InputError,
    RowError,
    RowpoolError,
    RowTimeout,
    SerializationError,
    WorkerLost,
)

if _launch.in_worker():
    # Inside a worker process (see _launch): no pandas, and none of the parent's side (pools,
    # jobs), at start-up; the API loads on demand (a function's module imported there may say
    # ``from rowpool import groupby_apply``).
    _ON_DEMAND = {
        "apply": "api",
        "map_batches": "api",
        "map": "_pandas.map",
        "engine": "_pandas.engine",
        "groupby_apply": "_pandas.groupby",
        "Pool": "pool",
        "set_idle_timeout": "_default_pool",
        "shutdown": "_default_pool",
    }

    def __getattr__(name: str) -> object:
        if name in _ON_DEMAND:
            import importlib

            return getattr(importlib.import_module(f"{__name__}.{_ON_DEMAND[name]}"), name)
        raise AttributeError(f"module 'rowpool' has no attribute {name!r}")
else:
    from ._default_pool import set_idle_timeout, shutdown
    from ._pandas import accessor as _accessor  # registers df.rowpool and series.rowpool
    from ._pandas.engine import engine
    from ._pandas.groupby import groupby_apply
    from ._pandas.map import map
    from .api import apply, map_batches
    from .pool import Pool

    del _accessor

__version__ = "0.1.0"

__all__ = [
    "BudgetExceeded",
    "EngineError",
    "InitError",
    "InputError",
    "Pool",
    "RowError",
    "RowTimeout",
    "RowpoolError",
    "SerializationError",
    "WorkerLost",
    "apply",
    "engine",
    "groupby_apply",
    "map",
    "map_batches",
    "set_idle_timeout",
    "shutdown",
]
