"""JobSpec: everything a worker needs to know about a job, sent once per job (not per chunk), and
its encoding as the JOB message (``encode_spec``).

The layout (see InputTable) says how each part of a chunk decodes: 2-D numpy blocks and numpy
columns copied byte for byte into the arena, pickles for everything else (object, string,
categorical, nullable, tz-aware ...).

The spec holds no pandas objects unless the frame needs them (extension dtypes): a worker running
a plain numeric or string frame never imports pandas, which keeps its start-up fast and its memory
small. The column Index travels pickled and is loaded only when a row needs it (``row.index``, a
genuine row Series, ``map_batches`` chunks).
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import SerializationError


@dataclass
class JobSpec:
    func: Callable
    mode: str  # "rows" or "batches"
    labels: list  # column labels, as plain Python objects
    column_index: bytes  # the pickled pandas column Index
    attribute_labels: frozenset  # labels reachable as row.<label> (not shadowed by a Series attribute)
    layout: list  # per chunk part: (kind, dtype, column positions, rows_major)
    row_dtype: Any  # dtype of the pandas row Series for this frame (rows mode)
    errors: str = "raise"
    row_type: str = "row"
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    init: Callable | None = None  # run once per worker; its value is func's second argument

    @classmethod
    def for_table(cls, table, func, mode: str, **options) -> JobSpec:
        """The spec of running ``func`` over ``table`` (an InputTable) in ``mode``."""
        import pandas as pd

        columns = table.frame.columns
        labels = columns.tolist()  # one pass: iterating an Arrow-backed Index label by label is slow
        shadowed = frozenset(dir(pd.Series))
        return cls(
            func=func,
            mode=mode,
            labels=labels,
            column_index=pickle.dumps(columns, protocol=5),
            attribute_labels=frozenset(
                label for label in labels if isinstance(label, str) and label not in shadowed
            ),
            layout=table.layout,
            row_dtype=table.row_dtype if mode == "rows" else None,
            **options,
        )


def encode_spec(spec, *, defer_imports: bool) -> bytes:
    """The JOB payload: the parent's sys.path (so by-reference functions import in the worker),
    whether the worker may defer pandas' import (see _deferred_imports), then the cloudpickled
    spec. Raises SerializationError naming what cannot be pickled."""
    import cloudpickle

    try:
        pickled = cloudpickle.dumps(spec)
    except Exception as failure:
        # Only on failure: pickle the parts one by one to name the culprit.
        for what, value in (("func", spec.func), ("args", spec.args), ("kwargs", spec.kwargs)):
            try:
                cloudpickle.dumps(value)
            except Exception as exc:
                raise SerializationError(f"{what} cannot be pickled for the workers: {exc!r}") from exc
        raise SerializationError(f"the job cannot be pickled for the workers: {failure!r}") from failure
    return pickle.dumps((list(sys.path), defer_imports, pickled))
