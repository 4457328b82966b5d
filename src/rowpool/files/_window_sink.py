"""A file job's results (see ``rowpool._sink``): ranges of rows, in row order, gathered window by
window and handed on as each window's pandas result -- what ``rowpool.apply`` of that window
returns -- to a ``FileSink`` (a commit per window) or a ``MemorySink``.

With ``apply`` a range across a window boundary is cut there, so commits fall on window
boundaries as in the source (the output and its resume do not depend on where chunks were cut).
A ``map_batches`` chunk cannot be cut: its rows are committed with their windows' rows, from the
first uncommitted row to the end of the chunk that completes a window. Under ``errors="raise"``
nothing from a window with a failed row on is handed on: the collector raises the row's error and
a resumed job starts at that window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._results import ChunkResults
from ._window_source import WindowSource
from ._windows import Window

if TYPE_CHECKING:
    from .._pandas.sink import RowsSink


def results_slice(results: ChunkResults, begin: int, end: int) -> ChunkResults:
    """The results of rows [begin, end) of a chunk, positions relative to ``begin``."""
    return ChunkResults(
        results.tags[begin:end],
        results.slots[begin:end],
        {p - begin: v for p, v in results.objects.items() if begin <= p < end},
        {p - begin: e for p, e in results.errors.items() if begin <= p < end},
    )


def _label(label):
    return label if isinstance(label, int) else str(label)


class WindowSink:
    """Hands ``inner`` (``add(window, result, failures)``) each window's result; see the module
    docstring."""

    def __init__(self, source: WindowSource, inner, mode: str, errors: str, progress_bar=None):
        self.source = source
        self.inner = inner
        self.progress_bar = progress_bar
        self.failures: list = []  # every failure handed on, as [label, type, message, traceback]
        self.batches = mode == "batches"
        self.errors = errors
        self.pending: list[tuple[int, int, ChunkResults]] = []  # (input begin, end, results)
        # apply: the current window's result, its rows placed as they arrive (not all at its end)
        self.placed: tuple[Window, RowsSink] | None = None
        self.stopped = False  # a row failed under errors="raise"

    def write(self, begin: int, end: int, results: ChunkResults) -> None:
        first, last = self.source.start + begin, self.source.start + end
        if self.batches:
            self._add(first, last, results)
            window = self.source.window_of(self.pending[0][0] - self.source.start)
            if last >= window.end and not self.stopped:
                self._flush()
            return
        while first < last and not self.stopped:
            window = self.source.window_of(first - self.source.start)
            cut = min(last, window.end)
            offset = first - self.source.start - begin
            whole = offset == 0 and cut == last
            piece = results if whole else results_slice(results, offset, offset + cut - first)
            self._add(first, cut, piece)
            self._place(window, first, piece)
            if cut == window.end and not self.stopped:
                self._flush()
            first = cut

    def _add(self, begin: int, end: int, results: ChunkResults) -> None:
        if results.errors and self.errors == "raise":
            self.stopped = True
        self.pending.append((begin, end, results))

    def _place(self, window: Window, begin: int, results: ChunkResults) -> None:
        from .._pandas.sink import RowsSink

        if self.placed is None or self.placed[0] is not window:
            self.placed = (window, RowsSink(window.like_frame(), self.errors))
        first = begin - window.begin
        self.placed[1].write(first, first + len(results.tags), results)

    def _flush(self) -> None:
        """Hands on the pending rows (whole windows, or a map_batches run ending with a chunk)."""
        from .._pandas.sink import BatchesSink

        begin, end = self.pending[0][0], self.pending[-1][1]
        pieces = self.source.pieces(begin - self.source.start, end - self.source.start)
        window = self._window(begin, end, pieces)
        assembler: RowsSink | BatchesSink
        if self.batches:
            assembler = BatchesSink(window.index, self.errors)
            for b, e, r in self.pending:
                assembler.write(b - begin, e - begin, r)
        else:
            # The pending rows are one window's (apply's ranges are cut at its ends), placed.
            assert self.placed is not None and self.placed[0] is window
            assembler, self.placed = self.placed[1], None
        labels = window.index
        failures = [
            [_label(labels[b - begin + f.position]), f.type_name, f.message, f.traceback]
            for b, _e, r in self.pending
            for f in r.failures
        ]
        self.inner.add(window, assembler.result(), failures)
        self.failures += failures
        if self.progress_bar is not None:
            self.progress_bar.update(end - begin)
        self.pending = []
        self.source.release(end)

    @staticmethod
    def _window(begin: int, end: int, pieces: list) -> Window:
        """Rows [begin, end) as one Window (the window itself when they are one)."""
        if len(pieces) == 1 and (pieces[0][2], pieces[0][3]) == (0, pieces[0][0].end - pieces[0][0].begin):
            return pieces[0][0]
        import pandas as pd
        import pyarrow as pa

        frame = pd.concat([w.frame.iloc[lo:hi] for w, _s, lo, hi in pieces])
        keep = None
        if pieces[0][0].keep is not None:
            keep = pa.concat_tables([w.keep.slice(lo, hi - lo) for w, _s, lo, hi in pieces])
        return Window(begin, end, frame, keep)

    def finish(self, failures: list) -> None:
        """Every row was written (and handed on, but after a failure under ``"raise"``)."""
        return None
