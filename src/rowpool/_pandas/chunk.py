"""A chunk as a worker (or the calling process) holds it: its row labels and its parts, decoded
from the arena without pandas (numpy views, ``Utf8Column`` and ``CellColumn`` parts), and where
each column is among the parts. ``rows`` presents its rows."""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .. import _codec
from .cells import CellColumn
from .utf8 import Utf8Column

if TYPE_CHECKING:
    from .rows import JobContext


class Chunk(NamedTuple):
    """A decoded chunk: its row labels; its parts as they travel, (column positions, a (rows,
    len(positions)) block or one column's array); the (rows, columns) block when one block holds
    every column in order (else None); and where each column is among the parts (see Places;
    None for a column a projected chunk lacks, see ``projected``)."""

    index: Any  # range, a numpy array of labels, or a pandas Index
    parts: list
    whole: np.ndarray | None
    places: list

    def copy(self) -> Chunk:
        """The chunk in memory of its own: its parts copied (a block's ``whole`` with them)."""
        parts = [(positions, part.copy()) for positions, part in self.parts]
        whole = None
        if self.whole is not None:
            whole = next(copy for (_, part), (_, copy) in zip(self.parts, parts) if part is self.whole)
        return Chunk(self.index, parts, whole, self.places)

    def column(self, j: int):
        """Column ``j``'s array (a view of its block's column for a block)."""
        number, offset = self.places[j]
        part = self.parts[number][1]
        return part if offset < 0 else part[:, offset]


class Places(NamedTuple):
    """Where a job's columns are among the parts of its chunks, worked out once per job (a chunk's
    cost must not grow with the number of columns): per column, (number of its part, its offset in
    a block or -1 for a part of its own); and the number of the block holding every column in
    order, if one does."""

    columns: list
    whole: int | None

    @classmethod
    def of(cls, layout: list, width: int, columns: list | None = None, first: int = 0) -> Places:
        """``columns``, ``first``: the places of parts already there, and how many they are."""
        columns = [None] * width if columns is None else columns
        whole = None
        for number, (kind, _dtype, positions, _rows_major) in enumerate(layout, start=first):
            for offset, j in enumerate(positions):
                columns[j] = (number, offset if kind == "block" else -1)
            if kind == "block" and positions == tuple(range(width)):
                whole = number
        return cls(columns, whole)


def decode_chunk(memory: np.ndarray, offset: int, context: JobContext) -> Chunk:
    """The chunk at ``offset`` (see Chunk).

    Numpy parts are views into the arena (no copy); nothing is done per column, so decoding costs
    the same for 10 or 10,000 columns. The block is the 2-D (rows, columns) view when one block
    holds every column in order, so ``map_batches`` builds its DataFrame without a copy."""
    buffers = _codec.unpack(memory, offset)
    return decode_buffers(buffers[0], buffers[1:], context.spec.schema.layout, context.places)


def decode_buffers(labels: np.ndarray, buffers: list, layout: list, places: Places) -> Chunk:
    """The Chunk of a chunk's pickled row ``labels`` and its parts' ``buffers``, which follow
    ``layout`` (the job's, or a projection's: ``rowpool._pandas.projected``)."""
    index = pickle.loads(labels)  # type: ignore[arg-type]  # numpy arrays are buffers
    rows = len(index)
    parts = [decode_part(buffer, entry, rows) for buffer, entry in zip(buffers, layout)]
    return build_chunk(index, parts, layout, places)


def decode_part(buffer: np.ndarray, entry: tuple, rows: int):
    kind, dtype, positions, rows_major = entry
    if kind == "pickle":
        return pickle.loads(buffer)  # type: ignore[arg-type]
    if kind == "raw":
        return buffer.view(dtype)
    if kind == "utf8":
        return Utf8Column.from_buffer(buffer, rows)
    if kind == "cells":
        return CellColumn(dtype, buffer, rows)
    values = buffer.view(dtype).reshape((rows, len(positions)) if rows_major else (len(positions), rows))
    return values if rows_major else values.T


def build_chunk(index, parts: list, layout: list, places: Places) -> Chunk:
    """The Chunk of decoded ``parts``, one per layout entry: the column (a numpy array, the
    unpickled values or a Utf8Column), or for a block its (rows, columns) array."""
    whole = None if places.whole is None else parts[places.whole]
    return Chunk(index, [(entry[2], part) for entry, part in zip(layout, parts)], whole, places.columns)
