"""A file job's rows as one Source (see ``rowpool._source``): windows read ahead on a thread, each
cut into chunks by a ``FrameSource``, so one job (one ``init=`` per worker) runs the whole input.

The dispatcher asks for chunks in row order, and again for rows of a chunk whose worker died, so
the source holds every window from the first row not yet written by the sink (``release`` drops
the windows before it) to the last row handed out, plus the one the read-ahead thread has ready:
memory stays within a few windows, as the arena bounds the rows in flight. A chunk across a window
boundary is the windows' parts joined part by part (``join_parts``): every window has the job's
layout, the first window's (a later window whose pandas types differ is cast to the first's).

Positions are the job's: row 0 is the input's row ``start`` (rows committed by an earlier run are
not read again).
"""

from __future__ import annotations

import pickle
from collections import deque
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from .._source import Schema
from ..errors import EngineError

if TYPE_CHECKING:
    from .._pandas.source import FrameSource
from ._arrow_rows import ArrowRowsSource, local_chunk_of_parts, rows_schema
from ._windows import Window

HELD_WINDOWS = 3  # full windows' bytes held for chunks (plus the read-ahead thread's two)


class WindowSource:
    """Rows [start, start + rows) of the input, read window by window from ``ready``."""

    def __init__(
        self, ready: Iterator[Window], rows: int, start: int, *, for_rows: bool, name: str, window_bytes=None
    ):
        """``window_bytes``: the size of a full window (None: windows are views, hold any number)."""
        from .._pandas.source import FrameSource

        # Extension columns travel pickled: a window's cells would differ from the job's layout.
        self._frame_source = partial(FrameSource, cells=False)
        self.ready = ready
        self.start = start
        self.rows = rows
        self.for_rows = for_rows
        self.name = name
        self.held: deque = deque()  # (window, its FrameSource), in row order
        self.held_bytes = 0
        self.max_held_bytes = None if window_bytes is None else HELD_WINDOWS * window_bytes
        self.arrow_schema: Schema | None = None  # the job's schema when windows are read as ArrowRows
        first = self._read()
        self.first_frame = first.frame if self.arrow_schema is None else first.rows.model
        self.schema = self.held[0][1].schema

    # -- windows ----------------------------------------------------------------------------------
    def _read(self) -> Window:
        window = next(self.ready, None)
        if window is None:
            raise EngineError(f"{self.name} ended before row {self._next_begin()} (the input changed?)")
        first = not self.held and not hasattr(self, "schema")
        if first and window.rows is not None:
            table = window.rows.table
            self.arrow_schema = rows_schema(window.rows.model, [f.type for f in table.schema])
        source: ArrowRowsSource | FrameSource
        if self.arrow_schema is not None:
            source = ArrowRowsSource(window.rows, self.arrow_schema)
        else:
            source = self._frame_source(window.frame, for_rows=self.for_rows)
            if not first:
                source = self._with_job_layout(window, source)
        self.held.append((window, source))
        self.held_bytes += _held_bytes(window, source)
        return window

    def _next_begin(self) -> int:
        return self.held[-1][0].end if self.held else self.start

    def _with_job_layout(self, window: Window, source):
        """``source``, its frame cast to the first window's dtypes when pandas typed it otherwise
        (an int column whose window has no missing value, after one that had)."""
        if self._same_layout(source):
            return source
        frame, first = window.frame, self.first_frame
        changed = [c for c in frame.columns if frame[c].dtype != first[c].dtype]
        try:
            window.frame = frame.astype({c: first[c].dtype for c in changed})
        except (TypeError, ValueError) as error:
            column = changed[0] if changed else None
            raise TypeError(
                f"{self.name}: column {column!r} is {first[column].dtype if column is not None else '?'} "
                f"before row {window.begin} and {frame[column].dtype if column is not None else '?'} "
                f"in rows {window.begin} to {window.end - 1}, which one job cannot hold: {error}"
            ) from error
        source = self._frame_source(window.frame, for_rows=self.for_rows)
        if not self._same_layout(source):
            raise TypeError(
                f"{self.name}: rows {window.begin} to {window.end - 1} do not have the columns' "
                f"types of the rows before them"
            )
        return source

    def _same_layout(self, source) -> bool:
        ours, theirs = self.schema, source.schema
        return (ours.labels, ours.layout, ours.row_dtype) == (theirs.labels, theirs.layout, theirs.row_dtype)

    def pieces(self, begin: int, end: int) -> list:
        """(window, its FrameSource, first, end) within each window of job rows [begin, end)."""
        first, last = self.start + begin, self.start + end
        while self._next_begin() < last:
            self._read()
        if first < self.held[0][0].begin:
            kept = self.held[0][0].begin
            raise EngineError(f"rowpool released rows {first}..{kept - 1} of {self.name} too early")
        pieces = []
        for window, source in self.held:
            if window.end > first and window.begin < last:
                lo, hi = max(first, window.begin), min(last, window.end)
                pieces.append((window, source, lo - window.begin, hi - window.begin))
        return pieces

    def window_of(self, position: int) -> Window:
        """The window holding job row ``position``."""
        return self.pieces(position, position + 1)[0][0]

    def release(self, end: int) -> None:
        """The sink wrote every input row before ``end`` (absolute): their windows can go."""
        while len(self.held) > 1 and self.held[0][0].end <= end:
            self.held_bytes -= _held_bytes(*self.held.popleft())

    # -- the Source protocol ----------------------------------------------------------------------
    def estimated_row_bytes(self) -> int:
        return self.held[0][1].estimated_row_bytes()

    def can_read(self, begin: int, end: int) -> bool:
        """Whether rows [begin, end) are held, or the windows held are less than HELD_WINDOWS full ones
        (while chunks are in flight: a slow first chunk must not make the job read the file)."""
        held = self._next_begin() >= self.start + end
        return held or self.max_held_bytes is None or self.held_bytes < self.max_held_bytes

    def chunk_parts(self, begin: int, end: int, projection=None) -> list:
        pieces = self.pieces(begin, end)
        parts = [source.chunk_parts(lo, hi, projection) for _w, source, lo, hi in pieces]
        if len(parts) == 1:
            return parts[0]
        layout = self.schema.layout if projection is None else projection.layout
        return join_parts(layout, parts, [hi - lo for *_ws, lo, hi in pieces])

    def local_end(self, begin: int, end: int) -> int:
        """Rows run in this process stop at the end of the window holding ``begin`` (or of the
        window's piece, see ``ArrowRowsSource.local_end``): a piece of one window is made of
        views of it, one across windows of copies."""
        window, source, lo, _hi = self.pieces(begin, begin + 1)[0]
        end = min(end, window.end - self.start)
        own_end = getattr(source, "local_end", None)
        return end if own_end is None else min(end, begin + own_end(lo, lo + end - begin) - lo)

    def local_chunk(self, begin: int, end: int):
        pieces = self.pieces(begin, end)
        if len(pieces) == 1:
            _window, source, lo, hi = pieces[0]
            return source.local_chunk(lo, hi)
        if self.arrow_schema is not None:
            parts = self.chunk_parts(begin, end)
            return local_chunk_of_parts(parts, end - begin, self.schema, pieces[0][1].places)
        import pandas as pd

        frame = pd.concat([w.frame.iloc[lo:hi] for w, _s, lo, hi in pieces])
        return self._frame_source(frame, for_rows=self.for_rows).local_chunk(0, end - begin)

    def local_frame(self, begin: int, end: int):
        import pandas as pd

        frames = [source.local_frame(lo, hi) for _w, source, lo, hi in self.pieces(begin, end)]
        return frames[0] if len(frames) == 1 else pd.concat(frames)

    def label(self, position: int):
        window = self.window_of(position)
        return window.index[self.start + position - window.begin]

    def labels(self, begin: int, end: int) -> list:
        return [label for w, _s, lo, hi in self.pieces(begin, end) for label in w.index[lo:hi]]


def _held_bytes(window: Window, source) -> int:
    """The bytes a window's rows hold: its Arrow arrays, or its pandas frame."""
    if isinstance(source, ArrowRowsSource):
        return source.nbytes
    return int(window.frame.memory_usage(index=False, deep=False).sum())


def join_parts(layout: list, parts: list[list], lengths: list[int]) -> list:
    """One chunk's parts from the parts of consecutive pieces (``lengths`` rows each) with the same
    ``layout`` (see ``rowpool._source``)."""
    joined: list = [pickle.dumps(_join_labels([pickle.loads(p[0]) for p in parts]), protocol=5)]
    for i, (kind, _dtype, _cols, rows_major) in enumerate(layout, start=1):
        pieces = [p[i] for p in parts]
        if kind == "pickle":
            values = [pickle.loads(v) for v in pieces]
            if isinstance(values[0], np.ndarray):
                joined.append(pickle.dumps(np.concatenate(values), protocol=5))
            else:
                joined.append(pickle.dumps(type(values[0])._concat_same_type(values), protocol=5))
        elif kind == "utf8":
            joined.append(_join_utf8(pieces, lengths))
        elif kind == "block" and not rows_major:
            joined.append(np.concatenate(pieces, axis=1))
        else:
            joined.append(np.concatenate(pieces))
    return joined


def _join_labels(labels: list):
    first = labels[0]
    if isinstance(first, range) and all(isinstance(r, range) and r.step == first.step for r in labels):
        return range(first.start, labels[-1].stop, first.step)
    if all(isinstance(x, np.ndarray) for x in labels):
        return np.concatenate(labels)
    if hasattr(first, "append"):  # a pandas Index
        return first.append(list(labels[1:]))
    return [label for piece in labels for label in piece]


def _join_utf8(parts: list, lengths: list[int]) -> np.ndarray:
    """utf8 parts (int64 offsets, a validity byte per row, the bytes) as one."""
    offsets, valid, data, shift = [], [], [], 0
    for part, rows in zip(parts, lengths):
        part = np.asarray(part, dtype=np.uint8)
        own = part[: 8 * (rows + 1)].view(np.int64)
        offsets.append(own[:-1] + shift)
        valid.append(part[8 * (rows + 1) : 8 * (rows + 1) + rows])
        data.append(part[8 * (rows + 1) + rows :])
        shift += int(own[-1])
    offsets.append(np.array([shift], dtype=np.int64))
    return np.concatenate([np.concatenate(offsets).view(np.uint8), *valid, *data])
