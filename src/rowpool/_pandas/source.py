"""The in-memory pandas DataFrame as a Source (see ``rowpool._source``): per-column arrays (views,
never a copy of the frame), cut into chunks that are encoded straight into the arena."""

from __future__ import annotations

import pickle
from functools import cached_property

import numpy as np
import pandas as pd

from .._source import Schema
from .cell_encoding import cell_format, cell_part
from .cells import CellColumn
from .chunk import Chunk, Places, build_chunk
from .utf8 import Utf8Column

RAW_KINDS = "biufcmM"  # numpy kinds copied byte for byte
PLAIN_LABEL_KINDS = "biufcO"  # index kinds whose labels pandas hands out as the array's .tolist()
PICKLED_BYTES_PER_VALUE = 64  # first guess for chunk sizing; measured chunks correct it


def _column_array(frame: pd.DataFrame, position: int):
    column = frame.iloc[:, position]
    if isinstance(column.dtype, np.dtype):
        return column.to_numpy(copy=False)
    return column.array


def _numpy_blocks(frame: pd.DataFrame) -> list:
    """(column positions, 2-D values) of the frame's numpy blocks of raw kinds: one copy per block
    moves a whole chunk of many columns. Empty when pandas' internals are not as expected."""
    try:
        blocks = frame._mgr.blocks
        found = []
        for block in blocks:
            values = block.values
            if isinstance(values, np.ndarray) and values.ndim == 2 and values.dtype.kind in RAW_KINDS:
                found.append((tuple(int(j) for j in block.mgr_locs.as_array), values))
        return found
    except (AttributeError, TypeError):
        return []


def _arrow_strings(array) -> bool:
    """An Arrow-backed ``str`` column whose missing values are NaN (pandas 3's default string)."""
    dtype = array.dtype
    return (
        isinstance(dtype, pd.StringDtype)
        and dtype.storage == "pyarrow"
        and isinstance(dtype.na_value, float)
        and hasattr(array, "__arrow_array__")
    )


def _utf8_column(array, begin: int, end: int) -> Utf8Column:
    """Rows [begin, end) of an Arrow-backed str column as a Utf8Column of views of its Arrow
    buffers (``Utf8Column.from_arrow``)."""
    return Utf8Column.from_arrow(array.__arrow_array__().slice(begin, end - begin).combine_chunks())


def _utf8_part(array, begin: int, end: int) -> np.ndarray:
    """Rows [begin, end) of an Arrow-backed str column as one buffer: int64 offsets (rows + 1), one
    validity byte per row, then the UTF-8 bytes (see ``utf8.Utf8Column``)."""
    offsets, valid, data = _utf8_column(array, begin, end)
    return np.concatenate([(offsets - offsets[0]).view(np.uint8), valid, data[offsets[0] : offsets[-1]]])


class FrameSource:
    """A DataFrame as the parts a chunk is made of, with the layout a worker decodes them by.

    Layout entries, one per part after the index: ``("block", dtype, positions, rows_major)`` for a
    2-D numpy block holding the columns at ``positions`` (stored row-major when the frame's memory
    is, so a chunk is one memcpy), ``("raw", dtype, (j,), False)`` for another numpy column, and
    ``("pickle", None, (j,), False)`` for everything else -- except, for rows of object dtype, a
    ``str`` column backed by Arrow: ``("utf8", None, (j,), False)``, its offsets, validity and UTF-8
    bytes, which a worker decodes without pandas or pyarrow, and only when a row reads the column;
    and, for rows of object dtype, ``("cells", CellFormat, (j,), False)`` for the extension columns
    ``cell_encoding`` writes as fixed-width buffers (nullable, Arrow numbers, categorical,
    tz-aware).
    Sources are views: nothing is copied until a chunk is written into the arena.
    """

    def __init__(self, frame: pd.DataFrame, *, for_rows: bool = False, cells: bool = True):
        """``for_rows``: chunks feed rows (``apply``), not DataFrames, so workers need the row labels
        rather than the Index. ``cells``: extension columns may travel as cells (not for a file's
        windows, which share one layout while their masks and categories differ)."""
        self.frame = frame
        self.rows = len(frame)
        self.width = frame.shape[1]
        self.layout: list = []
        self._sources: list = []
        # Rows of an extension dtype hold that dtype's scalars and are named index[i]: no shortcut.
        plain_rows = for_rows and isinstance(self.row_dtype, np.dtype)
        object_rows = cells and plain_rows and self.row_dtype == np.dtype(object)
        covered: set = set()
        for positions, values in _numpy_blocks(frame):
            rows_major = bool(values.T.flags.c_contiguous)
            self.layout.append(("block", values.dtype, positions, rows_major))
            self._sources.append(values.T if rows_major else values)
            covered.update(positions)
        for j in range(self.width):
            if j in covered:
                continue
            array = _column_array(frame, j)
            if isinstance(array, np.ndarray) and array.dtype.kind in RAW_KINDS:
                self.layout.append(("raw", array.dtype, (j,), False))
            elif plain_rows and _arrow_strings(array):
                self.layout.append(("utf8", None, (j,), False))
            elif object_rows and (encoding := cell_format(array)) is not None:
                self.layout.append(("cells", encoding, (j,), False))
            else:
                self.layout.append(("pickle", None, (j,), False))
            self._sources.append(array)
        self._label_dtype = self._plain_label_dtype() if plain_rows else None
        self.schema = self._schema(for_rows)

    def _schema(self, for_rows: bool) -> Schema:
        columns = self.frame.columns
        labels = columns.tolist()  # one pass: iterating an Arrow-backed Index label by label is slow
        shadowed = frozenset(dir(pd.Series))
        return Schema(
            labels=labels,
            column_index=pickle.dumps(columns, protocol=5),
            attribute_labels=frozenset(
                label for label in labels if isinstance(label, str) and label not in shadowed
            ),
            layout=self.layout,
            row_dtype=self.row_dtype if for_rows else None,
        )

    def _plain_label_dtype(self) -> np.dtype | None:
        """The dtype of index arrays whose ``tolist()`` gives exactly the labels pandas names rows
        by, when there is one (a worker then reads labels without pandas); else None."""
        index = self.frame.index
        if isinstance(index, (pd.RangeIndex, pd.MultiIndex)):
            return None  # a RangeIndex travels as a range; a MultiIndex as an Index
        if isinstance(index.dtype, np.dtype) and index.dtype.kind in PLAIN_LABEL_KINDS:
            return index.dtype
        if isinstance(index.dtype, pd.StringDtype):
            return np.dtype(object)
        return None

    @cached_property
    def row_dtype(self):
        """The dtype pandas gives the row Series of this frame (its interleaved dtype)."""
        if self.rows == 0 or self.width == 0:
            return np.dtype(object)
        dtype = self.frame.iloc[0].dtype
        if isinstance(dtype, np.dtype):
            # pandas fills rows of a numpy dtype from ``frame.values``, whose interleaved dtype can
            # differ from the first row's (an all-NaN categorical of ints beside ints: int64, not
            # float64); it depends on the blocks' dtypes only, so one row tells it.
            return self.frame.iloc[:1].to_numpy().dtype
        return dtype

    def estimated_row_bytes(self) -> int:
        raw = sum(dtype.itemsize * len(cols) for _, dtype, cols, _ in self.layout if dtype is not None)
        pickled = sum(1 for _, dtype, *_ in self.layout if dtype is None)
        return max(1, raw + PICKLED_BYTES_PER_VALUE * (pickled + 1))

    def _index_slice(self, begin: int, end: int):
        """Row labels of [begin, end), where possible in a form a worker reads without pandas: a
        ``range`` for a RangeIndex, the plain index values (see ``for_rows``), else the Index
        slice."""
        index = self.frame.index
        if self._label_dtype is not None:  # converted chunk by chunk: memory stays flat
            return index[begin:end].to_numpy(dtype=self._label_dtype)
        if isinstance(index, pd.RangeIndex):
            return range(index.start + begin * index.step, index.start + end * index.step, index.step)
        return index[begin:end]

    def label(self, position: int):
        """The label of the row at ``position``."""
        return self.frame.index[position]

    def labels(self, begin: int, end: int) -> list:
        """The labels of rows [begin, end)."""
        return list(self.frame.index[begin:end])

    def chunk_parts(self, begin: int, end: int, projection=None) -> list:
        """The buffers of rows [begin, end): the pickled index slice, then one per layout entry
        (of ``projection.layout``, a ``_projection.Projection``, when given: only its columns)."""
        parts: list = [pickle.dumps(self._index_slice(begin, end), protocol=5)]
        if projection is None:
            parts.extend(self._part(number, None, begin, end) for number in range(len(self.layout)))
        else:
            parts.extend(self._part(number, offsets, begin, end) for number, offsets in projection.cuts)
        return parts

    def _part(self, number: int, offsets, begin: int, end: int):
        """Rows [begin, end) of layout entry ``number`` (of a block, only the columns at
        ``offsets`` in it, unless None)."""
        kind, dtype, _cols, rows_major = self.layout[number]
        source = self._sources[number]
        if kind == "pickle":
            return pickle.dumps(source[begin:end], protocol=5)
        if kind == "utf8":
            return _utf8_part(source, begin, end)
        if kind == "cells":
            return cell_part(source, dtype, begin, end)
        if kind == "block" and offsets is not None:  # the columns kept (a copy, or a slice's view)
            return source[begin:end, offsets] if rows_major else source[offsets, begin:end]
        if kind == "block" and not rows_major:
            return source[:, begin:end]
        return source[begin:end]

    def local_chunk(self, begin: int, end: int) -> Chunk:
        """Rows [begin, end) as the Chunk a worker would decode from ``chunk_parts``, built in this
        process from views of the frame (nothing pickled or copied but str columns' buffers)."""
        parts: list = []
        for (kind, dtype, _cols, rows_major), source in zip(self.layout, self._sources):
            if kind == "utf8":
                parts.append(_utf8_column(source, begin, end))
            elif kind == "cells":
                buffer = cell_part(source, dtype, begin, end).view(np.uint8)
                parts.append(CellColumn(dtype, buffer, end - begin))
            elif kind == "block" and not rows_major:
                parts.append(source[:, begin:end].T)
            else:
                parts.append(source[begin:end])
        return build_chunk(self._index_slice(begin, end), parts, self.layout, self.places)

    def local_frame(self, begin: int, end: int) -> pd.DataFrame:
        """Rows [begin, end) of the caller's frame for map_batches' ``func``; a copy unless
        copy-on-write protects the caller's frame from a ``func`` that writes into its chunk
        (pandas 2 without the option)."""
        chunk = self.frame.iloc[begin:end]
        copy_on_write = int(pd.__version__.split(".")[0]) >= 3 or pd.options.mode.copy_on_write is True
        return chunk if copy_on_write else chunk.copy()

    @cached_property
    def places(self) -> Places:
        """Where each column is among a chunk's parts (``chunk.Places``)."""
        return Places.of(self.layout, self.width)
