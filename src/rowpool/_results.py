"""Assembly of per-chunk results into exactly what pandas returns for ``df.apply(func, axis=1)``.

Chunks whose results are all floats, ints or bools arrive as typed buffers and are concatenated;
anything else is rebuilt through pandas' own constructors from the full list of values, in the order
pandas uses (``FrameApply.wrap_results``), so dtype inference is pandas' own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._protocol import ResultKind

_NUMPY = {ResultKind.FLOAT: np.float64, ResultKind.INT: np.int64, ResultKind.BOOL: np.bool_}


def _as_array(kind: int, data) -> np.ndarray:
    return np.frombuffer(data, dtype=_NUMPY[ResultKind(kind)])


def _as_values(kind: int, data, numpy_scalars: bool) -> list:
    if kind in _NUMPY:
        array = _as_array(kind, data)
        return list(array) if numpy_scalars else array.tolist()
    return data


def assemble_rows(parts: list, index: pd.Index):
    """``parts``: (kind, data, numpy_scalars) per chunk, in row order. Returns a Series or DataFrame."""
    kinds = {ResultKind(kind) for kind, data, _ in parts if len(data)}
    if kinds and kinds <= {ResultKind.FLOAT, ResultKind.INT}:
        dtype = np.float64 if ResultKind.FLOAT in kinds else np.int64
        values = np.concatenate([_as_array(k, d).astype(dtype, copy=False) for k, d, _ in parts])
        return pd.Series(values, index=index)
    if kinds == {ResultKind.BOOL}:
        return pd.Series(np.concatenate([_as_array(k, d) for k, d, _ in parts]), index=index)
    values = [value for kind, data, numpy in parts for value in _as_values(kind, data, numpy)]
    return wrap_like_pandas(values, index)


def wrap_like_pandas(values: list, index: pd.Index):
    """pandas' ``FrameColumnApply.wrap_results`` for a list of per-row results."""
    results = dict(enumerate(values))
    if values and isinstance(values[0], pd.Series):
        frame = pd.DataFrame(data=results).T
        frame.index = index
        return frame.infer_objects()
    series = pd.Series(results)
    series.index = index
    return series


def like_apply_of(result, frame: pd.DataFrame):
    """``result`` as ``frame.apply(func, axis=1)`` returns it: of the frame's own (sliced) subclass,
    with its ``attrs``, flags and metadata (pandas' ``__finalize__``)."""
    if type(frame) is not pd.DataFrame:
        subclass = frame._constructor if isinstance(result, pd.DataFrame) else frame._constructor_sliced
        result = subclass(result)
    return result.__finalize__(frame, method="apply")


def assemble_batches(values: list, chunk_lengths: list[int], index: pd.Index):
    """Concatenation of map_batches results in input order.

    Series/DataFrame results are concatenated with ``pandas.concat``; 1-D arrays or lists with one
    value per row become a Series on the input's index; other values (one per chunk) a Series with
    one entry per chunk.
    """
    if not values:
        return pd.Series([], dtype=np.float64)
    if all(isinstance(v, (pd.Series, pd.DataFrame)) for v in values):
        return pd.concat(values)
    if all(
        isinstance(v, (np.ndarray, list)) and np.ndim(v) == 1 and len(v) == n
        for v, n in zip(values, chunk_lengths)
    ):
        return pd.Series(np.concatenate([np.asarray(v) for v in values]), index=index)
    return pd.Series(values)
