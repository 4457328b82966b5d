"""The worker's side of a chunk: decoding it from the arena and presenting its rows the way pandas'
``df.apply(func, axis=1)`` does (same values, same scalar types, same row dtype)."""

from __future__ import annotations

import pickle

import numpy as np

from . import _codec


def decode_chunk(memory: np.ndarray, offset: int, codecs: list):
    """(index slice, native column arrays) of the chunk at ``offset``; raw columns are zero-copy."""
    buffers = _codec.unpack(memory, offset)
    index = pickle.loads(buffers[0])
    arrays = []
    for buffer, (kind, dtype) in zip(buffers[1:], codecs):
        arrays.append(buffer.view(dtype) if kind == "raw" else pickle.loads(buffer))
    return index, arrays


def row_values(native, row_dtype) -> list:
    """Per-row values of one column as they appear in pandas' row Series of dtype ``row_dtype``."""
    if isinstance(native, np.ndarray) and native.dtype.kind not in "mM":
        if native.dtype == row_dtype:
            return list(native)  # numpy scalars (objects for object columns), as pandas hands out
        if isinstance(row_dtype, np.dtype):
            return list(native.astype(row_dtype))
    import pandas as pd

    array = pd.array(native, copy=False) if isinstance(native, np.ndarray) else native
    converted = array.astype(row_dtype, copy=False)
    if isinstance(converted, np.ndarray):
        return list(converted)
    if isinstance(converted, pd.arrays.NumpyExtensionArray):
        return list(converted.to_numpy())
    return [converted[i] for i in range(len(converted))]


class JobContext:
    """Per-job lookups shared by all chunks of the job (built once in the worker)."""

    def __init__(self, spec):
        self.spec = spec
        self.width = len(spec.columns)
        labels = list(spec.columns)
        counts: dict = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        # Duplicated labels select several columns in pandas: those go through the Series path.
        self.lookup = {label: (j if counts[label] == 1 else -1) for j, label in enumerate(labels)}
        self.lookup = {k: v for k, v in self.lookup.items() if v >= 0}
        series_attributes = _series_attributes()
        self.attr_lookup = {
            label: j
            for label, j in self.lookup.items()
            if isinstance(label, str) and label not in series_attributes
        }


def _series_attributes() -> frozenset:
    import pandas as pd

    return frozenset(dir(pd.Series))


class RowSource:
    """What the C++ RowBatch asks about a chunk: labels, per-column row values, genuine Series."""

    def __init__(self, context: JobContext, index, arrays: list):
        self.context = context
        self.index = index
        self.arrays = arrays
        self.lookup = context.lookup
        self.attr_lookup = context.attr_lookup
        self.width = context.width
        self.labels = list(index)
        self.columns = context.spec.columns
        self._values: dict[int, list] = {}

    def column(self, j: int) -> list:
        values = self._values.get(j)
        if values is None:
            values = self._values[j] = row_values(self.arrays[j], self.context.spec.row_dtype)
        return values

    def series(self, pos: int):
        import pandas as pd

        values = [self.column(j)[pos] for j in range(self.width)]
        return pd.Series(values, index=self.columns, dtype=self.context.spec.row_dtype, name=self.labels[pos])


def chunk_frame(spec, index, arrays):
    """The chunk as a DataFrame (for map_batches), with the original columns and index."""
    import pandas as pd

    frame = pd.DataFrame(dict(enumerate(arrays)), index=index, copy=False)
    frame.columns = spec.columns
    return frame
