"""Which columns a chunk carries: only those the job's rows read (data moved in proportion to the
columns rows read).

    worker: RowSource.column(j) / series() ──► ColumnReads ──RESULT payload──► ChunkColumns
    parent: ChunkColumns.current (a Projection) ──► Source.chunk_parts(begin, end, projection)
    worker: a row reads a column its chunk lacks ──FETCH──► parent cuts it ──COLUMNS──► row goes on

A row job's first chunks carry every column (or, when the first rows ran in the calling process,
the columns those rows read). With each RESULT a worker reports the columns its rows read that it
had not reported yet (``ColumnReads``); the dispatcher keeps their union (``ChunkColumns``) and cuts
every chunk from then on, re-runs after a worker's death included, to a ``Projection`` of the job's
layout (``Schema.layout``, see ``_source``) made once per union: a block entry is cut to the columns
read (a copy of those columns), single-column entries are kept or dropped. Such a chunk's TASK
record names its projection; its part after the row labels holds the projection's column positions,
from which a worker that never saw that projection (a replacement) works out its layout. A worker
caches the layout and ``Places`` per projection, so a chunk's cost still does not grow with the
frame's width.

A row reading a column its chunk lacks gets it on the spot: the worker sends FETCH (the column
positions) and waits for COLUMNS, the columns of the chunk's rows packed by ``_codec`` in the
layout ``project(layout, positions)``; ``func`` still runs once per row. A row that needs its
genuine Series (``row.values``, iteration, an unknown label ...) needs every column: the worker
reports ``READ_ALL`` and later chunks carry every column again, as they do once the columns read
hold most of a row's bytes (``MOST_BYTES``).

Only row jobs of lazy rows (``mode == "rows"``, ``row_type == "row"``) project; ``map_batches``,
``raw=True`` and groups hand ``func`` whole frames. ``ENABLED`` turns projection off (bench).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import _codec, _protocol

ENABLED = True
# A projection holding at least this share of a row's bytes is not worth it: cutting blocks copies
# the columns kept twice (cut, then packed), so chunks carry every column instead.
MOST_BYTES = 0.8
OTHER_CELL_BYTES = 64  # a guess for a value that is no fixed-width numpy one (pickled, str, cells)


class Projection(NamedTuple):
    """Columns ``positions`` (sorted) of a job's layout: ``layout``, the layout of a chunk carrying
    only them, and per entry of it ``cuts``: (the number of the job's layout entry it comes from,
    the offsets of the columns kept in that block as an index array or a slice, or None for the
    whole entry)."""

    number: int  # named by the TASK record; 0 is every column (the job's own layout)
    positions: np.ndarray
    layout: list
    cuts: list


def project(layout: list, positions, number: int = 0) -> Projection:
    """The projection of ``layout`` on the columns at ``positions``."""
    wanted = set(positions)
    entries: list = []
    cuts: list = []
    for index, entry in enumerate(layout):
        kind, dtype, columns, rows_major = entry
        offsets = [offset for offset, j in enumerate(columns) if j in wanted]
        if not offsets:
            continue
        if len(offsets) == len(columns):
            entries.append(entry)
            cuts.append((index, None))
        else:  # only blocks hold several columns
            kept = tuple(columns[offset] for offset in offsets)
            entries.append((kind, dtype, kept, rows_major))
            first, last = offsets[0], offsets[-1]
            adjacent = last - first + 1 == len(offsets)  # a slice: a view, copied once (packed)
            cuts.append((index, slice(first, last + 1) if adjacent else np.array(offsets, dtype=np.intp)))
    return Projection(number, np.array(sorted(wanted), dtype=np.int64), entries, cuts)


def row_bytes(layout: list) -> int:
    """About how many bytes a row of chunks with this layout takes."""
    return sum(
        len(columns) * (dtype.itemsize if isinstance(dtype, np.dtype) else OTHER_CELL_BYTES)
        for _kind, dtype, columns, _rows_major in layout
    )


@dataclass
class Traffic:
    """Bytes a job moved to its workers: chunks packed into the arena, columns fetched."""

    chunk_bytes: int = 0
    chunks: int = 0
    fetched_bytes: int = 0
    fetches: int = 0

    @property
    def total(self) -> int:
        """Every byte moved."""
        return self.chunk_bytes + self.fetched_bytes


_last = Traffic()


def last_traffic() -> Traffic:
    """What the last job of this process moved to its workers (benchmarks report it): nothing when
    every row ran in the calling process."""
    return _last


def new_traffic() -> Traffic:
    """A job starts: its traffic, counted from nothing."""
    global _last
    _last = Traffic()
    return _last


class ChunkColumns:
    """The dispatcher's side: the columns the job's rows read so far, and the projection that the
    chunks cut from now on carry (``current``; None: every column)."""

    def __init__(self, layout: list, *, enabled: bool, read: ColumnReads | None = None):
        """``read``: what the rows run in the calling process read (None: no row ran there)."""
        self.traffic = new_traffic()
        self.layout = layout
        self.full_bytes = row_bytes(layout)
        self.enabled = enabled and ENABLED
        self.read: set[int] = set()
        self.projections = 0
        self.current: Projection | None = None
        if read is not None:
            self.learned(read)

    def learned(self, read: ColumnReads) -> bool:
        """What rows run in the calling process read, as a worker's report (see ``reported``)."""
        seen = np.array(sorted(read.seen), dtype=np.int64).tobytes()
        return self.reported(_protocol.READ_ALL if read.every else 0, seen)

    def reported(self, flags: int, payload: bytes) -> bool:
        """A worker's report: RESULT flags and payload (int64 positions of columns read). True when
        the columns that chunks carry from now on changed."""
        if not self.enabled:
            return False
        if flags & _protocol.READ_ALL:
            self.enabled, self.current = False, None
            return True
        new = set(np.frombuffer(payload, dtype=np.int64).tolist()) - self.read
        if self.current is not None and not new:
            return False
        self.read |= new
        projection = project(self.layout, self.read, self.projections + 1)
        if row_bytes(projection.layout) >= MOST_BYTES * self.full_bytes:
            self.enabled, self.current = False, None  # the columns read only grow: for good
            return True
        self.projections += 1
        self.current = projection
        return True

    def byte_share(self) -> float:
        """The share of a row's bytes that chunks carry now (1: every column)."""
        if self.current is None or not self.full_bytes:
            return 1.0
        return row_bytes(self.current.layout) / self.full_bytes

    def parts(self, source, begin: int, end: int) -> tuple[list, int]:
        """The parts of chunk [begin, end) as it travels, and the number of its projection."""
        projection = self.current
        if projection is None:
            return source.chunk_parts(begin, end), 0
        parts = source.chunk_parts(begin, end, projection)
        parts.insert(1, projection.positions)
        return parts, projection.number

    def sent(self, chunk_bytes: int) -> None:
        """A chunk of ``chunk_bytes`` bytes went into the arena."""
        self.traffic.chunk_bytes += chunk_bytes
        self.traffic.chunks += 1

    def fetched(self, source, begin: int, end: int, request: bytes) -> bytes:
        """The COLUMNS reply to a FETCH of the columns in ``request`` for rows [begin, end)."""
        projection = project(self.layout, np.frombuffer(request, dtype=np.int64).tolist())
        parts = source.chunk_parts(begin, end, projection)[1:]
        reply = np.empty(_codec.packed_size(parts), dtype=np.uint8)
        _codec.pack(reply, 0, parts)
        self.traffic.fetched_bytes += reply.nbytes
        self.traffic.fetches += 1
        return reply.tobytes()


class ColumnReads:
    """A worker's record, for one job, of the columns its rows read (``RowSource``), and of what it
    has not reported yet."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.every = False  # a row needed its genuine Series: every column
        self._unreported: list[int] = []
        self._every_reported = False

    def read(self, position: int) -> None:
        """A row read the column at ``position`` (once per column and chunk, see ``RowSource``)."""
        if position not in self.seen:
            self.seen.add(position)
            self._unreported.append(position)

    def read_all(self) -> None:
        """A row needed its genuine Series."""
        self.every = True

    def report(self) -> tuple[int, bytes]:
        """The RESULT flags and payload telling what was read since the last report."""
        if self.every:
            flags = 0 if self._every_reported else _protocol.READ_ALL
            self._every_reported = True
            return flags, b""
        payload = np.array(self._unreported, dtype=np.int64).tobytes()
        self._unreported.clear()
        return 0, payload
