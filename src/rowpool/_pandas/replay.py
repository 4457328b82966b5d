"""``rowpool.apply`` with ``raw=True``, a ``result_type`` or a string/list/dict ``func``: pandas'
own shaping of the results.

``func`` runs once per row on rowpool (rows, or with ``raw=True`` numpy rows of ``df.values``);
then ``df.apply`` runs with the same ``raw`` and ``result_type`` and a function that returns those
results in order, so expanding, reducing, broadcasting and the raw array assembly are pandas' own.
A string, list or dict ``func`` names pandas methods, and pandas applies a numpy ufunc to whole
blocks: those run in pandas in the calling process.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import calls
from .sink import failure_frame

RESULT_TYPES = (None, "expand", "reduce", "broadcast")


def check(func, raw, result_type) -> None:
    """Raises TypeError/ValueError for bad ``func``/``raw``/``result_type`` arguments."""
    if not (callable(func) or isinstance(func, (str, list, dict))):
        raise TypeError(f"func must be callable, a string, list or dict, not {type(func).__name__}")
    if not isinstance(raw, bool):
        raise TypeError(f"raw must be True or False, not {type(raw).__name__}")
    if result_type not in RESULT_TYPES:
        raise ValueError(f"result_type must be one of {RESULT_TYPES}, got {result_type!r}")


def in_pandas(func) -> bool:
    """``func`` is not called once per row by pandas: a method name, a list or dict of them, or a
    numpy ufunc (applied to whole blocks)."""
    return not callable(func) or isinstance(func, np.ufunc)


class RawRows:
    """A chunk's rows as the numpy rows of ``df.values`` (its interleaved dtype): the results of
    ``func`` on each, in a one-element object Series (kept apart from pandas' result inference)."""

    def __init__(self, func, dtype: np.dtype, args: tuple, kwargs: dict):
        self.func, self.dtype, self.args, self.kwargs = func, dtype, args, kwargs

    def __call__(self, chunk: pd.DataFrame, *state) -> pd.Series:
        rows = chunk.to_numpy(dtype=self.dtype)
        holder = np.empty(1, dtype=object)
        holder[0] = [self.func(row, *state, *self.args, **self.kwargs) for row in rows]
        return pd.Series(holder)


def raw_results(values: np.ndarray, func, args: tuple, kwargs: dict, options: dict) -> list:
    """``func`` on every row of the 2-D ``values`` (a numpy row each), on rowpool: the results."""
    if options.get("errors", "raise") != "raise":
        raise ValueError('raw=True runs with errors="raise" only')
    frame = pd.DataFrame(values, dtype=values.dtype)  # object stays object (no str inference)
    chunks = calls.map_batches(frame, RawRows(func, values.dtype, args, kwargs), **options)
    return [value for chunk in chunks for value in chunk]


def apply(df: pd.DataFrame, func, *, raw: bool, result_type, args: tuple, kwargs: dict, **options):
    """``df.apply(func, axis=1, raw=raw, result_type=result_type, args=args, **kwargs)`` with
    ``func``'s calls on rowpool (see the module docstring)."""
    errors = options.get("errors", "raise")
    if in_pandas(func) or len(df) == 0 or df.shape[1] == 0:
        result = df.apply(func, axis=1, raw=raw, result_type=result_type, args=args, **kwargs)
        return (result, failure_frame([], df.index)) if errors == "collect" else result
    failures = None
    if raw and result_type != "broadcast":  # pandas broadcasts Series rows, even with raw=True
        options.pop("row_type", None)
        values = raw_results(df.to_numpy(), func, args, kwargs, options)
    else:
        outcome = calls.apply_values(df, func, args=args, kwargs=kwargs, **options)
        values, failures = outcome if errors == "collect" else (outcome, None)
    result = df.apply(replayer(values), axis=1, raw=raw, result_type=result_type)
    return (result, failures) if errors == "collect" else result


def replayer(values: list):
    """A function returning ``values`` one by one, whatever it is called with."""
    results = iter(values)
    return lambda *_ignored, **_also_ignored: next(results)
