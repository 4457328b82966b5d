"""The parent's side of "cells" columns (see ``cells``): which pandas extension columns of
a frame whose rows are of object dtype travel as fixed-width buffers, and the buffer of each chunk.

Nullable Int*/UInt*/Float*/boolean travel as their values and mask, Arrow-backed integers, floats
and booleans as values (nulls filled) and a mask, categoricals as codes (the categories once per
job, in the format), tz-aware datetimes as int64 instants. Everything else still travels pickled.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd

from .cells import CellFormat


def _arrow_cells(array) -> bool:
    """An Arrow-backed column of integers, floats (not float16) or booleans."""
    if not isinstance(array.dtype, pd.ArrowDtype):
        return False
    import pyarrow as pa

    kind = array.dtype.pyarrow_dtype
    return pa.types.is_integer(kind) or pa.types.is_boolean(kind) or kind in (pa.float32(), pa.float64())


def _category_table(array: pd.Categorical) -> bytes:
    """Each category as ``astype(object)`` hands it out (pandas' interleaving into an object row),
    preceded by what a missing value (code -1) becomes."""
    codes = np.arange(-1, len(array.categories))
    table = pd.Categorical.from_codes(codes, dtype=array.dtype).astype(object)
    return pickle.dumps(list(table), protocol=5)


def cell_format(array) -> CellFormat | None:
    """The CellFormat of a column's array when it can travel as cells, else None."""
    dtype = array.dtype
    if isinstance(array, (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)):
        masked = bool(array._mask.any())
        return CellFormat("masked", array._data.dtype.str, masked, pickle.dumps(dtype))
    if _arrow_cells(array):
        arrow = array.__arrow_array__()
        value_dtype = np.dtype(arrow.type.to_pandas_dtype()).str
        return CellFormat("arrow", value_dtype, arrow.null_count > 0, pickle.dumps(dtype))
    if isinstance(array, pd.Categorical):
        table = _category_table(array)
        return CellFormat("categorical", array.codes.dtype.str, False, pickle.dumps(dtype), table)
    if isinstance(dtype, pd.DatetimeTZDtype):
        return CellFormat("datetime", "<i8", False, pickle.dumps(dtype))
    return None


def cell_part(array, fmt: CellFormat, begin: int, end: int) -> np.ndarray:
    """Rows [begin, end) of ``array`` as ``fmt``'s buffer: the values, then the mask if masked."""
    if fmt.family == "masked":
        values, mask = array._data[begin:end], array._mask[begin:end]
    elif fmt.family == "arrow":
        arrow = array.__arrow_array__().slice(begin, end - begin).combine_chunks()
        mask = arrow.is_null().to_numpy(zero_copy_only=False) if fmt.masked else None
        if arrow.null_count:
            import pyarrow as pa

            arrow = arrow.fill_null(False if pa.types.is_boolean(arrow.type) else 0)
        values = arrow.to_numpy(zero_copy_only=False)
    elif fmt.family == "categorical":
        values, mask = array.codes[begin:end], None
    else:
        values, mask = array.asi8[begin:end], None
    values = np.ascontiguousarray(values)
    if not fmt.masked:
        return values
    return np.concatenate([values.view(np.uint8), np.ascontiguousarray(mask).view(np.uint8)])
