"""The worker's side of a chunk's rows: presenting them the way pandas' ``df.apply(func, axis=1)``
does (same values, same scalar types, same row dtype), from a Chunk (``chunk``)."""

from __future__ import annotations

import pickle
from functools import cached_property
from typing import Any

import numpy as np

from .. import _core
from .._projection import ColumnReads
from .cells import CellColumn
from .chunk import Chunk, Places
from .utf8 import Utf8Column


def row_values(native, row_dtype):
    """Per-row values of one column as they appear in pandas' row Series of dtype ``row_dtype``:
    a list, or a ``_core.ScalarColumn`` that boxes each value when a row reads it (no list of a
    million floats made, then freed, for a row function that reads each once)."""
    if isinstance(native, Utf8Column):
        return native.scalars()  # only in rows of object dtype
    if isinstance(native, CellColumn):
        return native.row_values()
    if isinstance(native, np.ndarray) and native.dtype.kind not in "mM":
        if native.dtype == row_dtype:
            if native.dtype == np.float64 and native.dtype.isnative:  # float frames: the common case
                return boxed_on_read(native, np.float64)
            return list(native)  # numpy scalars (objects for object columns), as pandas hands out
        if isinstance(row_dtype, np.dtype):
            if row_dtype.kind == "O" and native.dtype.kind in "biufc":
                return python_scalars(native)  # the Python scalars astype(object) holds
            return list(native.astype(row_dtype))
    if not isinstance(native, np.ndarray) and isinstance(row_dtype, np.dtype) and row_dtype.kind in "biufc":
        return list(native.to_numpy(dtype=row_dtype))  # as pandas interleaves an extension block
    import pandas as pd

    array = pd.array(native, copy=False) if isinstance(native, np.ndarray) else native
    converted = array.astype(row_dtype, copy=False)
    if isinstance(converted, np.ndarray):
        return list(converted)
    if isinstance(converted, pd.arrays.NumpyExtensionArray):
        return list(converted.to_numpy())
    return [converted[i] for i in range(len(converted))]


def python_scalars(values: np.ndarray):
    """The Python scalars ``values.tolist()`` holds (int, float, bool), boxed when read where C++
    can (native byte order, 1 to 8 bytes: ``_core.ScalarColumn``)."""
    dtype = values.dtype
    if dtype.kind == "c" or not dtype.isnative or (dtype.kind == "f" and dtype.itemsize < 4):
        return values.tolist()
    return boxed_on_read(values)


def boxed_on_read(values: np.ndarray, float_type=None):
    """A ``_core.ScalarColumn`` over ``values`` (native byte order; copied when not contiguous):
    Python scalars, or ``float_type`` instances for 8-byte floats."""
    kind, itemsize = values.dtype.kind, values.dtype.itemsize
    buffer = np.ascontiguousarray(values).view(np.uint8)
    return _core.ScalarColumn.cells(buffer, len(values), kind, itemsize, False, None, None, float_type)


class JobContext:
    """Per-job lookups shared by all chunks of the job (built once in the worker)."""

    def __init__(self, spec):
        self.spec = spec
        self.call_args = tuple(spec.args)  # what follows the row (or chunk) in each call of func
        schema = spec.schema
        self.width = schema.width
        labels = schema.labels
        counts: dict = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        # Duplicated labels select several columns in pandas: they stay in the lookup with -1, which
        # the C++ row reads as "present, but answered by the Series path" (``in`` must still be True).
        self.lookup = {label: (j if counts[label] == 1 else -1) for j, label in enumerate(labels)}
        self.attr_lookup = {
            label: j for label, j in self.lookup.items() if j >= 0 and label in schema.attribute_labels
        }
        self.places = Places.of(schema.layout, self.width)
        self.reads = ColumnReads()  # reported to the parent with each result (see _projection)
        self.projections: dict = {}  # projection number -> (its layout, Places), see projected
        self._columns = None

    def run_init(self) -> None:
        """Runs the job's ``init`` (once per process that runs the job): its value becomes the
        argument after the row (or chunk) in every call of func."""
        if self.spec.init is not None:
            self.call_args = (self.spec.init(),) + tuple(self.spec.args)

    @property
    def columns(self):
        """The pandas column Index (unpickled on first use: it imports pandas)."""
        if self._columns is None:
            self._columns = pickle.loads(self.spec.schema.column_index)
        return self._columns


class RowSource:
    """What the C++ RowBatch asks about a chunk: labels, per-column row values, genuine Series."""

    def __init__(self, context: JobContext, chunk: Chunk, fetch=None):
        """``fetch(chunk, positions)``: the chunk with the columns at ``positions`` (None: every
        one it lacks) added, for a chunk cut to the columns rows read (see ``projected``)."""
        self.context = context
        self.chunk = chunk
        self.fetch = fetch
        self.lookup = context.lookup
        self.attr_lookup = context.attr_lookup
        self.width = context.width
        self.rows = len(chunk.index)
        self._frame: Any = None  # the chunk's DataFrame, when rows come from it
        self._matrix: np.ndarray | None = None
        self._shared = True

    @cached_property
    def labels(self) -> list:
        """The rows' labels (``row.name``), listed the first time one is asked for: pandas names
        rows by iterating the index (Python scalars) for a numpy row dtype, but by ``index[i]``
        (numpy scalars for an integer Index) for an extension row dtype."""
        index = self.chunk.index
        if isinstance(index, np.ndarray):  # the plain index values (FrameSource for_rows)
            return index.tolist()
        if isinstance(self.context.spec.schema.row_dtype, np.dtype) or isinstance(index, range):
            return list(index)
        return [index[i] for i in range(len(index))]

    @property
    def columns(self):
        """The column Index (``row.index``)."""
        return self.context.columns

    def column(self, j: int):
        """Column ``j``'s per-row values (``row_values``); the RowBatch asks once per column."""
        self.context.reads.read(j)
        if self.chunk.places[j] is None:
            self.chunk = self.fetch(self.chunk, [j])
        return row_values(self.chunk.column(j), self.context.spec.schema.row_dtype)

    def detach(self) -> None:
        """Rows outlive their task: what they may still read is copied out of the chunk's memory
        (a task's arena block, reused for the next chunk)."""
        self.chunk = self.chunk.copy()
        if self._matrix is not None and self._shared:
            self._matrix, self._shared = self._matrix.copy(), False
        self._frame = None

    def series(self, pos: int):
        """The genuine pandas row Series, built the way pandas' ``FrameColumnApply.series_generator``
        builds it: ``frame.iloc[pos]`` when the row dtype is an extension dtype (sparse, nullable,
        categorical, tz-aware ...), else a row of ``frame.values`` (pandas' interleaving, e.g. Python
        ints in an object row). Never a view of the arena nor of another row."""
        import pandas as pd

        if self._matrix is None and self._frame is None:
            self.context.reads.read_all()
            if self.fetch is not None and None in self.chunk.places:
                self.chunk = self.fetch(self.chunk, None)
            row_dtype = self.context.spec.schema.row_dtype
            self._matrix = row_matrix(self.chunk, row_dtype, self.width)
            # A row of a matrix built for this chunk is a view: no other row, nor the arena, uses
            # its values (each position is asked for once).
            self._shared = self._matrix is self.chunk.whole
            if self._matrix is None:
                self._frame = chunk_frame(self.context, self.chunk)
                if isinstance(row_dtype, np.dtype):
                    self._matrix, self._shared = self._frame.values, True
        if self._matrix is None:
            return self._frame.iloc[pos].copy()
        values = self._matrix[pos]
        label = self.labels[pos]
        return pd.Series(values, index=self.columns, dtype=values.dtype, name=label, copy=self._shared)


NUMERIC_KINDS = "biufc"  # numpy kinds whose casts to a row dtype are exactly pandas' interleaving


def row_matrix(chunk: Chunk, row_dtype, width: int) -> np.ndarray | None:
    """pandas' ``frame.values`` of the chunk, the rows pandas' row Series are made of, built
    straight from the chunk's parts (no DataFrame: its cost would grow with the frame's width,
    once per chunk) where numpy's casts are what pandas' interleaving does: numeric columns into a
    numeric or object row dtype (Python floats, ints and bools in an object row), object and str
    columns into an object row. None for anything else (datetimes, extension arrays ...), whose
    rows come from the chunk's DataFrame."""
    if not isinstance(row_dtype, np.dtype) or row_dtype.kind not in NUMERIC_KINDS + "O":
        return None
    if chunk.whole is not None and chunk.whole.dtype == row_dtype:
        return chunk.whole
    matrix = np.empty((len(chunk.index), width), dtype=row_dtype)
    for positions, part in chunk.parts:
        if isinstance(part, Utf8Column) and row_dtype.kind == "O":
            matrix[:, positions[0]] = np.array(part.values(), dtype=object)
        elif isinstance(part, CellColumn) and row_dtype.kind == "O":
            matrix[:, positions[0]] = part.object_array()
        elif not isinstance(part, np.ndarray) or part.dtype.kind not in NUMERIC_KINDS + "O":
            return None
        elif part.ndim == 2:
            matrix[:, list(positions)] = part
        else:
            matrix[:, positions[0]] = part
    return matrix


def run_rows(context: JobContext, chunk: Chunk, progress, results, fetch=None) -> None:
    """Calls the job's function once per row of ``chunk``, stopping at the first failure when
    ``errors="raise"`` (see ``_core.run_rows``, which also updates the ``progress`` slot), each
    result or failure written to ``results`` (a ``_core.ResultWriter``) as the row finishes;
    ``fetch``: see RowSource."""
    spec = context.spec
    _core.run_rows(
        spec.func,
        _core.RowBatch(RowSource(context, chunk, fetch)),  # type: ignore[attr-defined]
        context.call_args,
        spec.kwargs or None,
        spec.errors == "raise",
        spec.row_type == "series",
        progress,
        results,
    )


def chunk_frame(context: JobContext, chunk: Chunk):
    """The chunk as a DataFrame (for map_batches and the row Series), with the original columns,
    index and column dtypes: a single block is wrapped as it is (no copy); otherwise one frame per
    part (a block of many columns at once: its cost does not grow with the frame's width), side by
    side, every column with its own dtype (the DataFrame constructor alone would infer ``str``
    from an object column holding only strings)."""
    import pandas as pd

    if chunk.whole is not None:
        frame = pd.DataFrame(chunk.whole, copy=False)
    else:
        rows = pd.RangeIndex(len(chunk.index))
        pieces = []
        for positions, part in chunk.parts:
            if isinstance(part, np.ndarray) and part.ndim == 2:
                pieces.append(pd.DataFrame(part, index=rows, columns=list(positions), copy=False))
                continue
            if isinstance(part, Utf8Column):
                part = np.array(part.values(), dtype=object)
            elif isinstance(part, CellColumn):
                part = part.to_pandas()
            column = pd.Series(part, index=rows, dtype=part.dtype, copy=False)
            pieces.append(column.to_frame(positions[0]))
        frame = pd.concat(pieces, axis=1) if pieces else pd.DataFrame(index=rows)
        order = [j for positions, _ in chunk.parts for j in positions]
        if order != list(range(context.width)):
            frame = frame.iloc[:, np.argsort(order, kind="stable")]
    index = chunk.index
    frame.index = pd.Index(index) if isinstance(index, range) else index
    frame.columns = context.columns
    return frame
