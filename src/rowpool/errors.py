"""Exceptions raised by rowpool.

Every engine failure surfaces as one of these. Each also inherits the closest builtin, so existing
``except`` clauses keep working: ``WorkerLost`` is a ``RuntimeError``, ``RowTimeout`` a
``TimeoutError``. A ``RowError`` raised for a failing row is, where possible, *also* an instance of
the row's own exception type (``except ValueError:`` still catches a ``ValueError`` from a row).
"""

from __future__ import annotations

import functools

__all__ = [
    "BudgetExceeded",
    "EngineError",
    "InitError",
    "InputError",
    "QueueClosed",
    "RowError",
    "RowTimeout",
    "RowpoolError",
    "SerializationError",
    "WorkerLost",
]


class RowpoolError(Exception):
    """Base class of every rowpool exception."""


class EngineError(RowpoolError, RuntimeError):
    """The engine itself failed (a protocol or system-level problem, not the user's function)."""


class QueueClosed(EngineError, ConnectionError):
    """The other end of a worker's message queue is gone."""


class BudgetExceeded(RowpoolError, MemoryError):
    """A chunk or result does not fit the shared-memory budget even when nothing else is in flight."""


class InputError(RowpoolError, ValueError):
    """An input file (or table) cannot be read as a table: corrupt, truncated, ragged, not UTF-8,
    without rows, or its files disagree. The message names the file, and the row or column where
    known; so do the attributes ``path``, ``row`` and ``column`` (None when unknown)."""

    def __init__(
        self, message: str, *, path: str | None = None, row: int | None = None, column: str | None = None
    ) -> None:
        super().__init__(message)
        self.path = path
        self.row = row
        self.column = column


class WorkerLost(RowpoolError, RuntimeError):
    """A worker process died (killed by a signal, crashed, or exited) while it held work.

    Attributes: ``exit_code`` (None when killed by a signal), ``signal`` (None when it exited),
    ``pid``, and ``rows`` (the labels of the rows it was working on, when known).
    """

    def __init__(
        self,
        message: str,
        *,
        exit_code: int | None = None,
        signal: int | None = None,
        pid: int | None = None,
        rows: list | None = None,
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.signal = signal
        self.pid = pid
        self.rows = rows


class InitError(RowpoolError, RuntimeError):
    """The ``init`` callable raised (in a worker, or in the calling process for a job run there).
    The message names the original exception; ``worker_traceback`` is its formatted traceback."""

    worker_traceback: str = ""


class RowTimeout(RowpoolError, TimeoutError):
    """A row ran longer than the ``timeout`` it was given."""


class RowError(RowpoolError):
    """The applied function raised for a row.

    Attributes: ``label`` (the row's index label), ``position`` (its position in the input),
    ``exc_type`` (the original exception's qualified type name), ``message`` (its text) and
    ``worker_traceback`` (the traceback formatted in the worker process).
    """

    label: object
    position: int
    exc_type: str
    message: str
    worker_traceback: str

    def __str__(self) -> str:
        return f"{self.exc_type}: {self.message} (row {self.label!r})"

    def __reduce__(self) -> tuple:
        from ._exception_types import describe_type

        return (
            _rebuild_row_error,
            (
                describe_type(self.original_type or Exception),
                self.label,
                self.position,
                self.exc_type,
                self.message,
                self.worker_traceback,
            ),
        )

    original_type: type | None = None


@functools.cache
def _error_class(original: type | None) -> type[RowError]:
    if original is None or not isinstance(original, type) or not issubclass(original, Exception):
        return RowError
    if issubclass(original, RowError):
        return original
    try:
        return type(f"RowError[{original.__name__}]", (RowError, original), {"original_type": original})
    except Exception:  # layout conflicts, a refusing __init_subclass__ or metaclass, ...
        return RowError


def _new_error(cls: type[RowError], message: str) -> RowError | None:
    try:
        error = cls.__new__(cls, message)  # type: ignore[call-arg]
        Exception.__init__(error, message)
    except Exception:
        return None
    return error if isinstance(error, RowError) else None


def make_row_error(
    original: type | None,
    *,
    label: object,
    position: int,
    exc_type: str,
    message: str,
    worker_traceback: str,
) -> RowError:
    """A RowError that is also an instance of ``original`` when that type allows it (else of the
    closest base class of it that does: a UnicodeDecodeError, whose constructor needs five
    arguments, gives a RowError that is a UnicodeError)."""
    error = None
    bases = original.__mro__ if isinstance(original, type) else (None,)
    for base in bases:
        if base is not None and (base is Exception or not issubclass(base, Exception)):
            break
        try:
            cls = _error_class(base)  # type: ignore[arg-type]  # an unhashable type raises
        except Exception:  # an unhashable or otherwise strange type
            continue
        error = _new_error(cls, message)
        if error is not None:
            break
    if error is None:
        error = RowError(message)
    error.label = label
    error.position = position
    error.exc_type = exc_type
    error.message = message
    error.worker_traceback = worker_traceback
    if worker_traceback and hasattr(error, "add_note"):
        error.add_note("Traceback in the worker process:\n" + worker_traceback.rstrip())
    return error


def _rebuild_row_error(
    original: tuple | None, label: object, position: int, exc_type: str, message: str, worker_traceback: str
) -> RowError:
    from ._exception_types import restore_type

    return make_row_error(
        restore_type(original),
        label=label,
        position=position,
        exc_type=exc_type,
        message=message,
        worker_traceback=worker_traceback,
    )


class SerializationError(RowpoolError, TypeError):
    """The function, its arguments or a result could not be pickled (or unpickled in a worker).
    ``worker_traceback``: the traceback formatted in the worker, when it failed there."""

    worker_traceback: str = ""
