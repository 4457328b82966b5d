"""A window read as Arrow whose rows are cut into chunks straight from its Arrow buffers, for a row
job (``apply``): no pandas frame is made of it (``to_pandas`` and the pandas blocks it builds cost
more than the rows' own decoding, and on the read-ahead thread they wait for the calling process's
rows to let go of the GIL dozens of times per window).

Each column is one chunk part: numbers, bools, datetimes and durations as numpy arrays (views of
the Arrow values where there are no missing values), strings as the "utf8" parts the in-memory
path makes of pandas' Arrow-backed ``str`` columns (see ``rowpool._source``). The job's schema --
column labels, column Index, row dtype -- is that of the frame ``to_pandas`` makes of the window's
first row (``model``), so rows, their dtypes and their results are those of that frame; an input
with a column that frame types otherwise (categorical, tz-aware, nullable, object, a stored index)
is not read as Arrow rows (``rows_schema`` returns None) and its windows become pandas frames.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import pickle

import numpy as np
import pyarrow as pa

from .._pandas.utf8 import Utf8Column
from .._source import Schema

RAW_KINDS = "biufmM"  # numpy kinds a column's part holds byte for byte


def _numpy_column(frame, position: int):
    column = frame.iloc[:, position]
    return column.to_numpy(copy=False) if isinstance(column.dtype, np.dtype) else column.array


def rows_schema(model, types: list[pa.DataType]) -> Schema | None:
    """The schema of rows of the frame ``model`` (a window's first row as pandas frame) whose
    columns were read as Arrow ``types``, each column its own part; None when a column is not a
    number, bool, datetime, duration or Arrow-backed str there."""
    import pandas as pd

    from .._pandas.source import FrameSource, _arrow_strings

    if not isinstance(model.index, pd.RangeIndex):
        return None
    layout: list = []
    for j, arrow_type in enumerate(types):
        values = _numpy_column(model, j)
        if isinstance(values, np.ndarray) and values.dtype.kind in RAW_KINDS:
            if not (pa.types.is_primitive(arrow_type) or pa.types.is_boolean(arrow_type)):
                return None
            layout.append(("raw", values.dtype, (j,), False))
        elif _arrow_strings(values) and _is_str(arrow_type):
            layout.append(("utf8", None, (j,), False))
        else:
            return None
    schema = FrameSource(model, for_rows=True, cells=False).schema
    return dataclasses.replace(schema, layout=layout)


def _is_str(arrow_type: pa.DataType) -> bool:
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _bytes(column) -> int:
    """The bytes of a batch's column: its array, or a string column's offsets, validity and
    bytes (those its rows span)."""
    if isinstance(column, Utf8Column):
        offsets, valid, _data = column
        return offsets.nbytes + valid.nbytes + int(offsets[-1] - offsets[0])
    return column.nbytes


def utf8_part(pieces: list) -> np.ndarray:
    """Rows of string columns as one "utf8" part: ``pieces`` are ((offsets, validity, bytes),
    begin, end); offsets from 0, then the validity bytes, then the bytes the rows span."""
    offsets, valid, data, shift = [], [], [], 0
    for (own_offsets, own_valid, own_data), begin, end in pieces:
        own = own_offsets[begin : end + 1]
        offsets.append(own[:-1] - (own[0] - shift))
        valid.append(own_valid[begin:end])
        data.append(own_data[own[0] : own[-1]])
        shift += int(own[-1] - own[0])
    offsets.append(np.array([shift], dtype=np.int64))
    return np.concatenate([np.concatenate(offsets).view(np.uint8), *valid, *data])


def _cut(column: pa.ChunkedArray, bounds: list[int]):
    """The arrays of ``column`` for rows [bounds[k], bounds[k + 1]), each within one of its chunks
    (a view of it)."""
    chunks = iter(column.chunks)
    chunk, first = None, 0  # the chunk holding the rows from ``first`` on
    for begin, end in zip(bounds, bounds[1:]):
        while chunk is None or begin >= first + len(chunk):
            first += 0 if chunk is None else len(chunk)
            chunk = next(chunks)
        yield chunk.slice(begin - first, end - begin)


class ArrowRows:
    """A window's rows as Arrow (``table``: the columns ``func`` reads, one chunk each), labelled
    by ``index`` (a RangeIndex); ``model``: the pandas frame of the input's first row."""

    def __init__(self, table: pa.Table, index, model, to_frame):
        self.table = table
        self.index = index
        self.model = model
        self.to_frame = to_frame  # the window's pandas frame, when something asks for it

    def like_frame(self):
        """A frame with the window's index, of the model's class and ``attrs``: what the window's
        result is shaped like (``assemble.like_apply_of``)."""
        import pandas as pd

        return pd.DataFrame(index=self.index).__finalize__(self.model)


class ArrowRowsSource:
    """One window's rows as a Source (the interface ``FrameSource`` has, for row jobs), batch by
    batch as they were read: the rows the calling process runs stop at a batch's end
    (``local_end``), so that its chunks are views; a worker's chunk is copied into the arena
    anyway, across batches too."""

    def __init__(self, rows: ArrowRows, schema: Schema):
        from .._pandas.chunk import Places

        self.index = rows.index
        self.rows = len(rows.index)
        self.schema = schema
        self.layout = schema.layout
        self.places = Places.of(self.layout, schema.width)
        columns = rows.table.columns
        # Batch k holds rows [bounds[k], bounds[k + 1]): every column's chunks end at a bound.
        ends = {end for column in columns for end in itertools.accumulate(map(len, column.chunks))}
        self.bounds = [0, *sorted(ends - {0})] if columns else [0, self.rows]
        self._batches: list[list] = [[] for _ in self.bounds[1:]]
        for (kind, dtype, _cols, _rows_major), column in zip(self.layout, columns):
            for k, array in enumerate(_cut(column, self.bounds)):
                if kind == "utf8":
                    self._batches[k].append(Utf8Column.from_arrow(array))
                else:
                    values = array.to_numpy(zero_copy_only=False)
                    self._batches[k].append(values if values.dtype == dtype else values.astype(dtype))
        self.nbytes = sum(_bytes(column) for batch in self._batches for column in batch)  # held here

    def estimated_row_bytes(self) -> int:
        from .._pandas.source import PICKLED_BYTES_PER_VALUE

        raw = sum(dtype.itemsize for kind, dtype, *_ in self.layout if kind == "raw")
        return max(1, raw + PICKLED_BYTES_PER_VALUE * (1 + sum(k == "utf8" for k, *_ in self.layout)))

    def _labels(self, begin: int, end: int) -> range:
        index = self.index
        return range(index.start + begin * index.step, index.start + end * index.step, index.step)

    def label(self, position: int):
        return self.index[position]

    def labels(self, begin: int, end: int) -> list:
        return list(self.index[begin:end])

    def _pieces(self, begin: int, end: int) -> list[tuple[int, int, int]]:
        """(batch, first, end) within each batch of rows [begin, end)."""
        k = bisect.bisect_right(self.bounds, begin) - 1
        pieces = []
        while begin < end:
            stop = min(end, self.bounds[k + 1])
            pieces.append((k, begin - self.bounds[k], stop - self.bounds[k]))
            begin, k = stop, k + 1
        return pieces

    def local_end(self, begin: int, end: int) -> int:
        """Rows the calling process runs from ``begin`` stop at the end of its batch."""
        return min(end, self.bounds[bisect.bisect_right(self.bounds, begin)])

    def chunk_parts(self, begin: int, end: int, projection=None) -> list:
        """As ``FrameSource.chunk_parts``: the pickled labels, then one part per (projected) column."""
        numbers = range(len(self.layout)) if projection is None else [n for n, _ in projection.cuts]
        pieces = self._pieces(begin, end)
        parts: list = [pickle.dumps(self._labels(begin, end), protocol=5)]
        for number in numbers:
            if self.layout[number][0] == "utf8":
                parts.append(utf8_part([(self._batches[k][number], lo, hi) for k, lo, hi in pieces]))
            elif len(pieces) == 1:
                k, lo, hi = pieces[0]
                parts.append(self._batches[k][number][lo:hi])
            else:
                parts.append(np.concatenate([self._batches[k][number][lo:hi] for k, lo, hi in pieces]))
        return parts

    def local_chunk(self, begin: int, end: int):
        """Rows [begin, end) as the Chunk a worker decodes from ``chunk_parts``: views of one
        batch's arrays (rows across batches are joined, as for a worker)."""
        from .._pandas.chunk import build_chunk

        pieces = self._pieces(begin, end)
        if len(pieces) > 1:
            return local_chunk_of_parts(self.chunk_parts(begin, end), end - begin, self.schema, self.places)
        k, lo, hi = pieces[0] if pieces else (0, 0, 0)
        parts: list = []
        for column in self._batches[k] if self._batches else []:
            if isinstance(column, Utf8Column):
                offsets, valid, data = column
                own = offsets[lo : hi + 1]
                parts.append(Utf8Column(own - own[0], valid[lo:hi], data[own[0] : own[-1]]))
            else:
                parts.append(column[lo:hi])
        return build_chunk(self._labels(begin, end), parts, self.layout, self.places)


def local_chunk_of_parts(parts: list, rows: int, schema: Schema, places):
    """The Chunk of ``chunk_parts`` output (joined across windows) of ``rows`` rows."""
    from .._pandas.chunk import build_chunk

    columns = [
        Utf8Column.from_buffer(part, rows) if kind == "utf8" else part
        for (kind, *_rest), part in zip(schema.layout, parts[1:])
    ]
    return build_chunk(pickle.loads(parts[0]), columns, schema.layout, places)
