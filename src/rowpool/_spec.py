"""JobSpec: everything a worker needs to know about a job, sent once per job (not per chunk), and
its encoding as the JOB message (``encode_spec``).

The source's Schema (``_source``) says how each part of a chunk decodes.

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

from ._source import Schema
from .errors import SerializationError


@dataclass
class JobSpec:
    """What a worker runs: ``func`` over the chunks of a source with this ``schema``."""

    func: Callable
    mode: str  # "rows" (apply) or "batches" (map_batches)
    schema: Schema
    errors: str = "raise"
    row_type: str = "row"
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    init: Callable | None = None  # run once per worker; its value is func's second argument


@dataclass(frozen=True)
class Options:
    """How a job runs, whatever its input (checked once by ``_checks.options``)."""

    chunk_rows: int | None = None  # fixed chunk length (None: sized from measured row cost)
    progress: bool | None = None
    timeout: float | None = None  # seconds per row
    retries: int = 2
    max_worker_memory: int | None = None
    in_process: bool | None = None


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
