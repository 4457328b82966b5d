"""``rowpool.map(series, func)``: ``Series.map`` with a callable, the calls spread over workers.

pandas decides what ``func`` is called with (Python scalars, ``Timestamp``, ``NA``, for a
categorical only its categories, NA skipped with ``na_action="ignore"``) and how the results become
a Series (dtype inference, categorical results, the index, the name, ``attrs``). Both stay pandas'
own: a first pass of ``series.map`` with a recorder collects the exact arguments, rowpool calls
``func`` on them (once each, in workers or, for a tiny job, here), and a second pass of
``series.map`` hands pandas the results in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from .calls import apply_values
from .sink import failure_frame

ARGUMENT = "argument"  # the column holding the arguments in the frame rowpool runs over


class _CallOnArgument:
    """``func`` called on the one value a row of the arguments frame holds."""

    def __init__(self, func: Callable) -> None:
        self.func = func

    def __call__(self, row: Any, *args: Any, **kwargs: Any) -> Any:
        return self.func(row[ARGUMENT], *args, **kwargs)


def _arguments(series: pd.Series, na_action: str | None) -> list:
    """What pandas' ``series.map(func, na_action)`` calls ``func`` with, in order."""
    calls: list = []

    def record(value: Any) -> int:
        # Distinct results keep pandas on the path a real func takes (pandas 2's categorical map
        # fails on repeated results when NaN is among the codes).
        calls.append(value)
        return len(calls)

    series.map(record, na_action=na_action)
    return calls


def _labels(series: pd.Series, calls: int) -> pd.Index:
    """The labels of the values pandas calls ``func`` with: all, those not NA (``na_action=
    "ignore"``), or for a categorical (called on its categories) just their positions."""
    if calls == len(series):
        return series.index
    present = series.notna().to_numpy()
    if calls == present.sum():
        return series.index[present]
    return pd.RangeIndex(calls)


def map(series: pd.Series, func: Callable, na_action: str | None = None, **options: Any) -> Any:
    """Parallel ``series.map(func, na_action=na_action)`` for a callable ``func``: the same result
    (values, dtype, index, name, ``attrs``, subclass), ``func`` called once per value in workers.

    ``options`` are :func:`rowpool.apply`'s (``workers``, ``errors``, ``progress``, ``chunk_rows``,
    ``timeout``, ``retries``, ``max_worker_memory``, ``args``, ``kwargs``, ``pool``,
    ``in_process``, ``init``); ``args``/``kwargs``/the ``init`` state follow the value in each
    call. ``errors="coerce"`` puts NA where ``func`` failed; ``errors="collect"`` returns
    ``(result, failures)`` with failures indexed by the series' labels.

        >>> rowpool.map(s, lambda x: slow_lookup(x), na_action="ignore")
        >>> s.rowpool.map(slow_lookup)
    """
    if not isinstance(series, pd.Series):
        raise TypeError(f"series must be a pandas Series, not {type(series).__name__}")
    if not callable(func):
        raise TypeError(f"func must be callable, not {type(func).__name__}")
    if na_action not in (None, "ignore"):
        raise ValueError(f"na_action must be None or 'ignore', got {na_action!r}")
    for unsupported in ("row_type", "output", "columns", "keep"):
        if unsupported in options:
            raise TypeError(f"rowpool.map() got an unexpected keyword argument {unsupported!r}")
    calls = _arguments(series, na_action)
    labels = _labels(series, len(calls))
    arguments = pd.DataFrame({ARGUMENT: pd.Series(calls, dtype=object, index=labels)})
    errors = options.get("errors", "raise")
    if calls:
        outcome = apply_values(arguments, _CallOnArgument(func), **options)
    else:
        outcome = ([], failure_frame([], labels)) if errors == "collect" else []
    values, failures = outcome if errors == "collect" else (outcome, None)
    results = iter(values)
    result = series.map(lambda _value: next(results), na_action=na_action)
    return (result, failures) if errors == "collect" else result
