"""``rowpool.apply`` / ``map_batches`` over sources that need not fit in memory: argument checks,
then the job (see ``_job``)."""

from __future__ import annotations

import os
import re

from ._job import budget, run_in_memory, run_to_file
from ._open import open_source
from ._output import OutputTarget
from ._sources import expand_paths

SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)
UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
MIN_MAX_MEMORY = 64 * 10**6
ERRORS = ("raise", "coerce", "collect")


def parse_size(value, name: str = "max_memory") -> int:
    """Bytes from an int or a string such as ``"1GB"``, ``"512 MiB"``, ``"2g"``."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(
            f"{name} must be an int (bytes) or a size string like '1GB', not {type(value).__name__}"
        )
    if isinstance(value, int):
        size = value
    else:
        match = SIZE.match(value)
        if match is None:
            raise ValueError(f"{name} must look like '512MB', '1GB' or '2GiB', got {value!r}")
        unit = match.group(2).lower().rstrip("b")
        factor = 1024 ** " kmgt".index(unit[0]) if unit.endswith("i") else UNITS[unit]
        size = int(float(match.group(1)) * factor)
    if size < MIN_MAX_MEMORY:
        raise ValueError(f"{name} must be at least 64MB, got {value!r}")
    return size


def _names(value, name: str, allow_none: bool) -> list[str] | None:
    if value is None and allow_none:
        return None
    if isinstance(value, str):
        return [value] if name == "keep" else _names_error(name, value)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        _names_error(name, value)
    return list(value)


def _names_error(name: str, value):
    raise TypeError(f"{name} must be a list of column names (str), not {type(value).__name__}")


def _check_flags(output, resume, overwrite) -> None:
    for flag, value in (("resume", resume), ("overwrite", overwrite)):
        if not isinstance(value, bool):
            raise TypeError(f"{flag} must be True or False, not {type(value).__name__}")
    if resume and overwrite:
        raise ValueError("resume=True and overwrite=True contradict each other: pick one")
    if (resume or overwrite) and output is None:
        raise ValueError("resume= and overwrite= apply to an output file: pass output= too")


def run(source, func, *, call, output, columns, keep, max_memory, resume, overwrite, **options):
    """The job of ``call`` (``rowpool.apply`` or ``map_batches``) over a source that is not an
    in-memory pandas DataFrame, or that writes to ``output``: one job over the source's windows
    (see ``_job``)."""
    if not callable(func):
        raise TypeError(f"func must be callable, not {type(func).__name__}")
    errors = options.pop("errors", "raise")
    if errors not in ERRORS:
        raise ValueError(f"errors must be one of {ERRORS}, got {errors!r}")
    columns = _names(columns, "columns", allow_none=True)
    keep = _names(keep, "keep", allow_none=False)
    _check_flags(output, resume, overwrite)
    if keep and output is None:
        raise ValueError("keep= names columns copied to an output file: pass output= too")
    arena_bytes, window_bytes = budget(parse_size(max_memory))
    progress = options.pop("progress", None)
    pool_options = {
        "pool": options.pop("pool", None),
        "workers": options.pop("workers", None),
        "arena_bytes": arena_bytes,
        "max_worker_memory": options.pop("max_worker_memory", None),
    }
    common = {"errors": errors, "progress": progress, "pool_options": pool_options, "options": options}
    if output is None:
        opened = open_source(source, columns, keep, window_bytes)
        return run_in_memory(opened.windows, opened.kind, opened.rows, call, func, **common)
    # The output is checked first: a bad output fails before a long CSV scan.
    inputs = expand_paths(os.fspath(source)) if isinstance(source, (str, os.PathLike)) else []
    target = OutputTarget.check(output, overwrite=overwrite, resume=resume, inputs=inputs)
    opened = open_source(source, columns, keep, window_bytes)
    return run_to_file(
        opened.windows, opened.rows, target, opened.fingerprint, call, func, resume=resume, **common
    )
