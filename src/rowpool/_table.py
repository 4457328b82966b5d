"""The parent's side of the input: a DataFrame seen as per-column arrays (views, never a copy of
the frame), cut into chunks that are encoded straight into the arena."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd

from . import _codec

RAW_KINDS = "biufcmM"  # numpy kinds copied byte for byte
PICKLED_BYTES_PER_VALUE = 64  # first guess for chunk sizing; measured chunks correct it


def _column_array(frame: pd.DataFrame, position: int):
    column = frame.iloc[:, position]
    if isinstance(column.dtype, np.dtype):
        return column.to_numpy(copy=False)
    return column.array


class InputTable:
    """A DataFrame as column arrays plus the codec of each column."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.rows = len(frame)
        self.arrays = [_column_array(frame, j) for j in range(frame.shape[1])]
        self.codecs = [
            ("raw", a.dtype) if isinstance(a, np.ndarray) and a.dtype.kind in RAW_KINDS else ("pickle", None)
            for a in self.arrays
        ]

    def row_dtype(self):
        """The dtype pandas gives the row Series of this frame (its interleaved dtype)."""
        if self.rows == 0 or not self.arrays:
            return np.dtype(object)
        return self.frame.iloc[0].dtype

    def estimated_row_bytes(self) -> int:
        raw = sum(a.dtype.itemsize for a, (kind, _) in zip(self.arrays, self.codecs) if kind == "raw")
        pickled = sum(1 for kind, _ in self.codecs if kind == "pickle")
        return max(1, raw + PICKLED_BYTES_PER_VALUE * (pickled + 1))

    def _index_slice(self, begin: int, end: int):
        """Row labels of [begin, end): a plain ``range`` for a RangeIndex (so that a worker needs
        no pandas to read it), else the Index slice."""
        index = self.frame.index
        if isinstance(index, pd.RangeIndex):
            return range(index.start + begin * index.step, index.start + end * index.step, index.step)
        return index[begin:end]

    def chunk_parts(self, begin: int, end: int) -> list:
        """The buffers of rows [begin, end): the pickled index slice, then one buffer per column."""
        parts = [pickle.dumps(self._index_slice(begin, end), protocol=5)]
        for array, (kind, _) in zip(self.arrays, self.codecs):
            piece = array[begin:end]
            parts.append(piece if kind == "raw" else pickle.dumps(piece, protocol=5))
        return parts


def chunk_size(parts: list) -> int:
    return _codec.packed_size(parts)
