"""Which of a job's rows the workers still need to run, and which failure the job reports.

Every range of rows that finished (a whole chunk, or the finished rows of a chunk whose worker
died) goes with its ChunkResults to the job's Collector (``_sink``). With ``errors="raise"`` the
job reports the earliest failing row, as serial pandas would, although workers run ahead of it:
once a row fails, the rows before it keep running (one of them may fail earlier) and the rows
after it are dropped (``clip``). A range that kills its workers every time (a poison row) counts
as a failure too; its WorkerLost / RowTimeout is raised only when no earlier row failed
(``raise_poison``).
"""

from __future__ import annotations

from ._recovery import Range, failed_outcome
from ._results import ChunkResults
from ._sink import Collector


class Outcomes:
    """The earliest failure (``errors="raise"``) and the poisoned ranges of a job's workers."""

    def __init__(self, errors: str, collector: Collector):
        self.raising = errors == "raise"
        self.collector = collector
        self.first_failure: int | None = None  # position of the earliest failure (raising only)
        self.poison: dict[int, BaseException] = {}  # first row of a poisoned range -> its error

    def add(self, begin: int, end: int, results: ChunkResults) -> None:
        """Rows [begin, end) finished with ``results``."""
        self.collector.add(begin, end, results)
        if results.errors and self.raising:
            self.failed_at(begin + min(results.errors))

    def add_poisoned(self, rows: Range, error: BaseException, result_rows: int) -> None:
        """``rows`` kill their worker every time: a failure of every row (``result_rows`` of them in
        the result), or with ``errors="raise"`` the job's error unless an earlier row failed."""
        if self.raising:
            self.poison[rows.begin] = error
            self.failed_at(rows.begin)
        else:
            self.add(rows.begin, rows.end, failed_outcome(error, result_rows))

    def failed_at(self, position: int) -> None:
        if self.first_failure is None or position < self.first_failure:
            self.first_failure = position

    def clip(self, rows: Range) -> Range | None:
        """The part of ``rows`` still worth running: before the earliest failure (None: nothing)."""
        limit = self.first_failure
        if limit is None or rows.end <= limit:
            return rows
        return rows._replace(end=limit) if rows.begin < limit else None

    def raise_poison(self) -> None:
        """Raises the error of a poisoned range when it is the earliest failure of the job."""
        if self.first_failure is not None and self.first_failure in self.poison:
            raise self.poison[self.first_failure]
