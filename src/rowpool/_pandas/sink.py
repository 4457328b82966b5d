"""The in-memory pandas result, as Sinks (see ``rowpool._sink``): ranges of results, in row order,
placed into one buffer for every row as they arrive (``apply``, ``map``) or kept (``map_batches``,
``groupby``), and assembled at the end into exactly what pandas returns (``assemble``), with the
failures frame of ``errors="collect"``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._protocol import Failure
from .._results import ChunkResults
from . import assemble


def failure_frame(failures: list[Failure], index: pd.Index) -> pd.DataFrame:
    """The failures of ``errors="collect"``: exception type, message and traceback by row label."""
    return pd.DataFrame(
        {
            "exception": [f.type_name for f in failures],
            "message": [f.message for f in failures],
            "traceback": [f.traceback for f in failures],
        },
        index=index[[f.position for f in failures]],
    )


def with_failures(result: Any, errors: str, failures: list[Failure], index: pd.Index) -> Any:
    """``result``, paired with the failures frame under ``errors="collect"``."""
    return (result, failure_frame(failures, index)) if errors == "collect" else result


class _Assembled:
    """A sink whose ``finish`` returns ``result()`` (with the failures frame under ``"collect"``)."""

    def __init__(self, index: pd.Index, errors: str):
        self.index = index
        self.errors = errors

    def finish(self, failures: list[Failure]) -> Any:
        return with_failures(self.result(), self.errors, failures, self.index)

    def result(self) -> Any:
        raise NotImplementedError


class _KeptRanges(_Assembled):
    """Keeps every written range with its ChunkResults, for ``result``."""

    def __init__(self, index: pd.Index, errors: str):
        super().__init__(index, errors)
        self.ranges: list[tuple[int, int, ChunkResults]] = []

    def write(self, begin: int, end: int, results: ChunkResults) -> None:
        self.ranges.append((begin, end, results))


class _PlacedRows(_Assembled):
    """Places each written range into one ``ChunkResults`` for every row of ``index`` as it
    arrives, for ``result``: no chunk is kept and nothing is concatenated, so the results' bytes
    are held once (a float result becomes the Series' buffer as it is)."""

    def __init__(self, index: pd.Index, errors: str):
        super().__init__(index, errors)
        self.results = ChunkResults.room_for(len(index))

    def write(self, begin: int, end: int, results: ChunkResults) -> None:
        self.results.place(begin, results)


class RowsSink(_PlacedRows):
    """``apply``'s result: a Series or DataFrame on the input's index, typed as pandas types it,
    of the frame's own subclass and with its ``attrs`` (``assemble.like_apply_of``)."""

    def __init__(self, frame: pd.DataFrame, errors: str):
        super().__init__(frame.index, errors)
        self.frame = frame

    def result(self) -> Any:
        return assemble.like_apply_of(assemble.assemble_rows(self.results, self.index), self.frame)


class ValuesSink(_PlacedRows):
    """Every row's result as ``func`` returned it, in a list, before any dtype inference
    (``rowpool.map`` and the ``raw``/``result_type`` replay hand them to pandas)."""

    def result(self) -> list:
        return self.results.values()


class RangesSink(_KeptRanges):
    """Every written range with its ChunkResults, failed ranges too: the caller decides what a
    failure means (``groupby``: a failed chunk fails every group in it)."""

    reports_failures = True

    def finish(self, failures: list[Failure]) -> list:
        return self.ranges


class BatchesSink(_KeptRanges):
    """``map_batches``' result: the chunks' values combined in input order."""

    def result(self) -> Any:
        values = [results.values()[0] for _b, _e, results in self.ranges]
        failed = [bool(results.errors) for _b, _e, results in self.ranges]
        bounds = [(b, e) for b, e, _results in self.ranges]
        if any(failed):
            values = fill_failed_batches(values, failed, bounds, self.index)
        return assemble.assemble_batches(values, [e - b for b, e in bounds], self.index)


def fill_failed_batches(values: list, failed: list[bool], bounds: list[tuple[int, int]], index: pd.Index):
    """NA in place of the value of each failed chunk, shaped like the other chunks' values:
    NaN rows on the chunk's index for Series/DataFrames and per-row arrays, else NaN."""
    good = [(v, e - b) for v, f, (b, e) in zip(values, failed, bounds) if not f]
    if not good:
        return [pd.Series(np.nan, index=index[b:e]) for b, e in bounds]
    per_row = all(len(v) == n for v, n in good if hasattr(v, "__len__"))
    first = good[0][0]
    filled = []
    for value, bad, (begin, end) in zip(values, failed, bounds):
        if not bad:
            filled.append(value)
        elif per_row and all(isinstance(v, pd.DataFrame) for v, _ in good):
            filled.append(pd.DataFrame(np.nan, index=index[begin:end], columns=first.columns))
        elif per_row and all(isinstance(v, pd.Series) for v, _ in good):
            filled.append(pd.Series(np.nan, index=index[begin:end], name=first.name))
        elif per_row and all(isinstance(v, (np.ndarray, list)) and np.ndim(v) == 1 for v, _ in good):
            filled.append(np.full(end - begin, np.nan))
        else:
            filled.append(np.nan)
    return filled
