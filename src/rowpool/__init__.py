"""rowpool: run a slow Python function over every row of a huge pandas table on all cores.

    >>> import rowpool
    >>> result = rowpool.apply(df, lambda row: row["a"] * 2 + row["b"])   # == df.apply(f, axis=1)
    >>> with rowpool.Pool(workers=8) as pool:
    ...     result = pool.apply(df, f)

See ``rowpool.apply``, ``rowpool.map_batches``, ``rowpool.Pool`` and ``df.rowpool.apply``.
"""

from __future__ import annotations

from . import accessor as _accessor  # registers df.rowpool / series.rowpool
from .api import apply, map_batches
from .errors import (
    BudgetExceeded,
    EngineError,
    RowError,
    RowpoolError,
    RowTimeout,
    SerializationError,
    WorkerLost,
)
from .pool import Pool

__version__ = "0.1.0"

__all__ = [
    "BudgetExceeded",
    "EngineError",
    "Pool",
    "RowError",
    "RowTimeout",
    "RowpoolError",
    "SerializationError",
    "WorkerLost",
    "apply",
    "map_batches",
]

del _accessor
