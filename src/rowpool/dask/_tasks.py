"""What a Dask worker runs for a ``cluster=`` job: one part, on the worker's warm Pool.

Every task is a module-level function of an installed module, so only its arguments (the part,
``func`` by value through cloudpickle, the options) travel with it.
"""

from __future__ import annotations

from . import call
from ._parts import Part, read_file_part
from ._plugin import pool_here


def _shift(error, begin: int):
    """A RowError of a part names the row's position in the whole input, as the local path does."""
    if hasattr(error, "position"):
        error.position += begin
    return error


def run_frame(frame, func, mode: str, options: dict, begin: int = 0):
    """The result of ``func`` over ``frame`` (``(result, failures)`` for ``errors="collect"``)."""
    try:
        return call(mode)(frame, func, pool=pool_here(), progress=False, **options)
    except Exception as error:
        raise _shift(error, begin) from None


def run_file_part(path: str, part: Part, func, mode: str, options: dict, reading: dict):
    """``run_frame`` over ``part`` of the file source at ``path`` (``reading``: columns, keep,
    window_bytes)."""
    frame, _keep = read_file_part(path, part, **reading)
    return run_frame(frame, func, mode, options, part.begin)


def _with_keep(frame, keep_frame):
    if keep_frame is None:
        return frame
    extra = [c for c in keep_frame.columns if c not in frame.columns]
    return frame.join(keep_frame[extra]) if extra else frame


def write_part(frame, part_path: str, func, mode: str, options: dict, keep: list, func_columns):
    """Writes the results of ``frame`` (the ``keep`` columns beside them) to ``part_path``
    through the local file path: atomically, with a journal, resumed where a killed attempt
    stopped, so each row is in the part exactly once whatever ran before."""
    return call(mode)(
        frame,
        func,
        pool=pool_here(),
        progress=False,
        output=part_path,
        keep=tuple(keep),
        columns=func_columns,
        resume=True,
        **options,
    )


def write_file_part(path: str, part: Part, part_path: str, func, mode: str, options: dict, reading: dict):
    """``write_part`` of ``part`` of the file source at ``path``."""
    frame, keep_frame = read_file_part(path, part, **reading)
    func_columns = list(frame.columns)
    return write_part(
        _with_keep(frame, keep_frame), part_path, func, mode, options, reading["keep"], func_columns
    )
