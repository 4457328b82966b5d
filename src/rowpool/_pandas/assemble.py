"""Assembly of a job's per-row results into exactly what pandas returns.

Results that are all floats/ints or all bools become one numpy array; anything else is rebuilt
through pandas' own constructors from the full list of values, in the order pandas uses
(``FrameApply.wrap_results``), so dtype inference is pandas' own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._results import ChunkResults, RowTag, present_tags

_FLOATS = frozenset({RowTag.FLOAT, RowTag.NUMPY_FLOAT})
_INTS = frozenset({RowTag.INT, RowTag.NUMPY_INT})
_BOOLS = frozenset({RowTag.BOOL, RowTag.NUMPY_BOOL})


def assemble_rows(results: ChunkResults, index: pd.Index):
    """``results``: every row's (``ChunkResults.room_for`` filled in row order). Returns a Series or
    DataFrame. Numeric results become the Series' own buffer, without a copy: ``results`` is
    consumed (ints among floats are converted in place)."""
    tags, slots = results.tags, results.slots
    kinds = set(present_tags(tags))
    if kinds and kinds <= _FLOATS | _INTS:
        if kinds <= _INTS:
            return pd.Series(slots, index=index, copy=False)
        values = slots.view(np.float64)
        if kinds & _INTS:  # pandas makes floats of ints mixed with floats
            ints = np.isin(tags, list(_INTS))
            values[ints] = slots[ints].astype(np.float64)
        return pd.Series(values, index=index, copy=False)
    if kinds and kinds <= _BOOLS:
        return pd.Series(slots != 0, index=index, copy=False)
    return wrap_like_pandas(results.values(), index)


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
