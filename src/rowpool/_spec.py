"""JobSpec: everything a worker needs to know about a job, sent once per job (not per chunk).

Column codecs: ``("raw", dtype)`` for numpy fixed-width columns copied byte for byte into the arena,
``("pickle", None)`` for everything else (object, string, categorical, nullable, tz-aware ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class JobSpec:
    func: Callable
    mode: str  # "rows" or "batches"
    columns: Any  # pandas.Index of column labels
    codecs: list  # per column: ("raw", numpy dtype) or ("pickle", None)
    row_dtype: Any  # dtype of the pandas row Series for this frame (rows mode)
    errors: str = "raise"
    row_type: str = "row"
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
