"""The worker's side of "cells" columns: pandas extension columns that travel as fixed-width
buffers in the arena instead of pickles (nullable Int*/UInt*/Float*/boolean, Arrow-backed numbers
and booleans, categorical codes, tz-aware datetimes; ``cell_encoding`` writes them).

A chunk's part is the values (``rows`` x itemsize bytes), then, for a masked format, one byte per
row, non-zero where the value is missing. Rows of object dtype read the values as pandas' own row
Series hands them out (``frame.values`` interleaves each column with ``astype(object)``): Python
int, float and bool, ``pandas.NA`` where masked, the category for a code (the categories travel
once per job, in the format). ``rowpool._core.ScalarColumn`` boxes them in C++, so pandas is
imported only for a pandas scalar: NA in a chunk that has a missing value, a Timestamp.

Imported by workers: no pandas at import time.
"""

from __future__ import annotations

import pickle
from typing import NamedTuple

import numpy as np

from .. import _core


class CellFormat:
    """How a cells column decodes, sent once per job in the layout (``("cells", format, (j,),
    False)``). ``family`` is "masked" (pandas' nullable arrays), "arrow" (ArrowExtensionArray),
    "categorical" (the codes; ``table`` holds the pickled categories as an object row hands them out,
    ``table[0]`` standing for code -1) or "datetime" (tz-aware: int64 since the epoch in UTC, boxed
    by pandas). ``dtype`` is the pickled pandas dtype, loaded only to rebuild the pandas array (a
    genuine row Series, a Timestamp). Never pickles a pandas object as such: unpickling a job's spec
    must not import pandas."""

    def __init__(self, family: str, value_dtype: str, masked: bool, dtype: bytes, table: bytes | None = None):
        self.family = family
        self.value_dtype = value_dtype  # numpy dtype string of the values, e.g. "<i8", "|b1"
        self.masked = masked
        self.dtype = dtype
        self.table = table
        self._loaded: dict = {}  # unpickled table / dtype, per process

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_loaded"] = {}
        return state

    @property
    def itemsize(self) -> int:
        """Bytes per row (for chunk sizing)."""
        return np.dtype(self.value_dtype).itemsize + (1 if self.masked else 0)

    def _load(self, name: str):
        if name not in self._loaded:
            self._loaded[name] = pickle.loads(getattr(self, name))
        return self._loaded[name]

    def categories(self) -> list:
        """The category of each code + 1 (loaded once per process)."""
        return self._load("table")

    def pandas_dtype(self):
        """The column's pandas dtype (imports pandas)."""
        return self._load("dtype")


class CellColumn(NamedTuple):
    """A cells column of one chunk: its format and its buffer (a view into the arena)."""

    format: CellFormat
    buffer: np.ndarray
    rows: int

    def _values_and_mask(self) -> tuple:
        dtype = np.dtype(self.format.value_dtype)
        end = self.rows * dtype.itemsize
        values = self.buffer[:end].view(dtype)
        mask = self.buffer[end:].view(np.bool_) if self.format.masked else None
        return values, mask

    def values(self) -> list:
        """The values as pandas hands them out in a row of object dtype."""
        if self.format.family == "datetime":
            return self.to_pandas().astype(object).tolist()
        return self.scalars().values()

    def row_values(self):
        """``values()``, boxed when a row reads them where they can be (``_core.ScalarColumn``;
        a list for tz-aware datetimes, boxed by pandas)."""
        return self.values() if self.format.family == "datetime" else self.scalars()

    def scalars(self):
        """The values as a ``_core.ScalarColumn`` (not for tz-aware datetimes)."""
        fmt = self.format
        dtype = np.dtype(fmt.value_dtype)
        missing = None
        if fmt.masked and self.buffer[self.rows * dtype.itemsize :].any():
            import pandas as pd

            missing = pd.NA
        table = fmt.categories() if fmt.family == "categorical" else None
        kind, itemsize = dtype.kind, dtype.itemsize
        return _core.ScalarColumn.cells(self.buffer, self.rows, kind, itemsize, fmt.masked, missing, table)

    def copy(self) -> CellColumn:
        """The column in memory of its own (not the arena's)."""
        return CellColumn(self.format, self.buffer.copy(), self.rows)

    def object_array(self) -> np.ndarray:
        """``values()`` as an object array (a column of pandas' ``frame.values``)."""
        return np.fromiter(self.values(), dtype=object, count=self.rows)

    def to_pandas(self):
        """The column's pandas array (a copy of the arena's bytes)."""
        import pandas as pd

        fmt = self.format
        dtype = fmt.pandas_dtype()
        values, mask = self._values_and_mask()
        if fmt.family == "categorical":
            return pd.Categorical.from_codes(values.copy(), dtype=dtype)
        if fmt.family == "datetime":
            naive = values.view(f"M8[{dtype.unit}]")
            return pd.DatetimeIndex(naive).tz_localize("UTC").tz_convert(dtype.tz).array
        if mask is None:
            mask = np.zeros(self.rows, dtype=np.bool_)
        if fmt.family == "masked":
            return dtype.construct_array_type()(values.copy(), mask.copy())
        import pyarrow as pa

        arrow = pa.array(values, mask=mask, type=dtype.pyarrow_dtype)
        return pd.arrays.ArrowExtensionArray(arrow)
