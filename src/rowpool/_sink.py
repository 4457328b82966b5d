"""The Sink seam: where a job's results go.

    class Sink(Protocol):
        def write(self, begin: int, end: int, results: ChunkResults) -> None
        def finish(self, failures: list[Failure]) -> Any

``write`` receives the typed results of rows [begin, end) (``_results.ChunkResults``: a tag and an
8-byte slot per row, the objects of str/object rows, the failures), from the parent's main thread,
exactly once per row and in row order: the ranges written cover [0, rows) without gap or overlap
(a chunk whose worker died arrives as the range of its finished rows, then the rest once re-run).
For map_batches a range is one chunk and its results hold one value. ``finish`` is called once
every row was written, with every failure in row order (absolute positions), and returns the job's
result. Under ``errors="raise"`` the earliest failure raises its RowError instead (the sink may
have received some ranges by then), so a sink sees failures only under ``"coerce"`` and
``"collect"`` -- unless it ``reports_failures`` itself (a class attribute set to True).

The in-memory pandas result (``rowpool._pandas.sink``) is the first sink: it places each range into
one buffer for every row as it arrives (its bytes held once: no chunk kept, nothing concatenated)
and assembles the Series or DataFrame pandas' own ``apply`` returns. A file sink writes each range
as it arrives; a Dask task returns its partition's in-memory result.

The ``Collector`` sits between the runners (``_local`` in the calling process, ``_dispatch`` on
workers) and the sink: results arrive in completion order and leave in row order; it gathers the
failures, advances the progress bar and raises the earliest failure under ``errors="raise"``.
"""

from __future__ import annotations

from typing import Any, Protocol

from ._exception_types import restore_type
from ._protocol import Failure
from ._results import ChunkResults
from ._source import Source
from .errors import EngineError, make_row_error


class Sink(Protocol):
    """See the module docstring."""

    def write(self, begin: int, end: int, results: ChunkResults) -> None: ...

    def finish(self, failures: list[Failure]) -> Any: ...


class Collector:
    """Hands a job's results to its sink in row order; see the module docstring."""

    def __init__(self, sink: Sink, source: Source, errors: str, progress: Any = None):
        self.sink = sink
        self.source = source
        self.errors = errors
        self.progress = progress
        self.next_row = 0  # rows before it were written to the sink
        self.waiting: dict[int, tuple[int, ChunkResults]] = {}  # first row -> (end, results)
        self.failures: list[Failure] = []

    def add(self, begin: int, end: int, results: ChunkResults) -> None:
        """Takes the results of rows [begin, end)."""
        self.failures.extend(f.at(begin) for f in results.failures)
        self.waiting[begin] = (end, results)
        while self.next_row in self.waiting:
            ready_end, ready = self.waiting.pop(self.next_row)
            self.sink.write(self.next_row, ready_end, ready)
            self.next_row = ready_end
        if self.progress is not None:
            self.progress.update(end - begin)

    def finish(self) -> Any:
        """The sink's result, or the RowError of the earliest failing row (``errors="raise"``)."""
        failures = sorted(self.failures, key=lambda f: f.position)
        if failures and self.errors == "raise" and not getattr(self.sink, "reports_failures", False):
            raise self.row_error(failures[0])
        if self.waiting or self.next_row != self.source.rows:
            raise EngineError(f"rowpool lost the results of rows {self.next_row}..{self.source.rows - 1}")
        return self.sink.finish(failures)

    def row_error(self, failure: Failure) -> Exception:
        return make_row_error(
            restore_type(failure.described_type),
            label=self.source.label(failure.position),
            position=failure.position,
            exc_type=failure.type_name,
            message=failure.message,
            worker_traceback=failure.traceback,
        )
