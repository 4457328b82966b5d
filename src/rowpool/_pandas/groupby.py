"""``rowpool.groupby_apply(df, by, func)``: ``df.groupby(by).apply(func)``, one call per group,
the groups spread over workers.

pandas decides the groups, what ``func`` receives (the group's rows without the grouping columns
unless ``include_groups``, its ``name`` the group's key) and how the results become one Series or
DataFrame (``group_keys``, ``dropna``, transform-like results, ...). Both stay pandas' own: rowpool
calls ``func`` once per group in its workers (chunks of whole groups, largest first, see
``_groups``), then pandas' own ``groupby.apply`` runs with a function that hands it those results in
the order it asks for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.typing import DataFrameGroupBy

from .groups import GroupedFrame, GroupShape, GroupTable
from .sink import RangesSink

PANDAS_MAJOR = int(pd.__version__.split(".")[0])


class GroupCalls:
    """``map_batches``' function over a chunk of whole groups: ``func`` on each group, in order.
    Returns ``[(group number, result, failure)]``; a group's exception is described (as a worker
    describes a row's) and the next group runs: the parent decides which failure pandas would
    have raised."""

    def __init__(self, func: Callable[..., Any], shape: GroupShape, args: tuple, kwargs: dict) -> None:
        self.func, self.shape, self.args, self.kwargs = func, shape, args, kwargs

    def __call__(self, chunk: pd.DataFrame, *state: Any) -> list:
        from .._worker import _describe

        done: list[tuple] = []
        body = self.shape.body(chunk)
        for begin, end, code in self.shape.runs(chunk):
            group = self.shape.group(body, begin, end, code)
            try:
                done.append((code, self.func(group, *state, *self.args, **self.kwargs), None))
            except Exception as exc:  # noqa: BLE001 - reported as pandas would, in the parent
                done.append((code, None, _describe(exc)))
        return done


def _check(func: Any, args: Any, kwargs: Any) -> None:
    if not callable(func):
        raise TypeError(f"func must be callable, not {type(func).__name__}")
    if not isinstance(args, tuple):
        raise TypeError(f"args must be a tuple, not {type(args).__name__}")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError(f"kwargs must be a dict, not {type(kwargs).__name__}")


def _run(table: GroupTable, calls: GroupCalls, **options: Any) -> list:
    """The job over ``table``'s groups (``chunk_rows``: groups per chunk): every range of groups
    with its ChunkResults, failed ranges (a worker died, a timeout) included."""
    from .calls import run_source

    return run_source(
        table.frame, table, calls, "batches", lambda errors: RangesSink(table.frame.index, errors), options
    )


def _outcomes(
    grouped: GroupedFrame, chunks: list, func: Callable[..., Any], args: tuple, kwargs: dict, state: tuple
) -> tuple[list, dict]:
    """Every group's result (in group order) and failure description by group number, from the
    job's chunks and, for empty groups, calls in this process."""
    from .._worker import _describe

    results: list = [None] * grouped.ngroups
    failures: dict[int, tuple] = {}
    for begin, end, outcome in chunks:
        if outcome.errors:  # the chunk itself failed (its worker died, a timeout): all its groups
            (_, *description) = outcome.failures[0]
            for code in grouped.order[begin:end]:
                failures[int(code)] = tuple(description)
            continue
        for code, value, failure in outcome.values()[0]:
            results[code] = value
            if failure is not None:
                failures[code] = failure
    for code in grouped.empty:
        try:
            results[code] = func(grouped.empty_group(int(code)), *state, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            failures[int(code)] = _describe(exc)
    return results, failures


def _raise_first(grouped: GroupedFrame, failures: dict) -> None:
    from .._exception_types import restore_type
    from ..errors import make_row_error

    code = min(failures)
    type_name, message, tb, original = failures[code]
    raise make_row_error(
        restore_type(original),
        label=grouped.shape.names[code],
        position=code,
        exc_type=type_name,
        message=message,
        worker_traceback=tb,
    )


def _failure_frame(grouped: GroupedFrame, failures: dict) -> pd.DataFrame:
    codes = sorted(failures)
    names = [grouped.shape.names[code] for code in codes]
    return pd.DataFrame(
        {
            "exception": [failures[c][0] for c in codes],
            "message": [failures[c][1] for c in codes],
            "traceback": [failures[c][2] for c in codes],
        },
        index=pd.Index(names, tupleize_cols=False, dtype=object),
    )


def _replay(groupby: Any, results: list, include_groups: bool) -> Any:
    """pandas' own ``groupby.apply``, handed ``results`` in the order it calls ``func``; at
    ``_RETRY_WITHOUT_GROUPS`` a TypeError (pandas 2 then retries without the grouping columns)."""
    values = iter(results)

    def replay(*_ignored: Any, **_also_ignored: Any) -> Any:
        value = next(values)
        if value is _RETRY_WITHOUT_GROUPS:
            raise TypeError("func raised a TypeError on a group (in rowpool's worker)")
        return value

    options = {"include_groups": include_groups} if isinstance(groupby, DataFrameGroupBy) else {}
    return groupby.apply(replay, **options)


_RETRY_WITHOUT_GROUPS = object()


def _run_groups(
    groupby: Any, func: Callable[..., Any], include_groups: bool, args: tuple, kwargs: dict, options: dict
) -> tuple[GroupedFrame, list, dict]:
    """Every group's call: the GroupedFrame, results and failures by group number."""
    grouped = GroupedFrame(groupby, include_groups)
    table = GroupTable(grouped)
    calls = GroupCalls(func, grouped.shape, args, kwargs)
    chunks = _run(table, calls, **options) if table.rows else []
    init = options.get("init")
    state = () if init is None or not len(grouped.empty) else (init(),)
    results, failures = _outcomes(grouped, chunks, func, args, kwargs, state)
    return grouped, results, failures


def _first_is_type_error(failures: dict) -> bool:
    from .._exception_types import restore_type

    original = restore_type(failures[min(failures)][3])
    return isinstance(original, type) and issubclass(original, TypeError)


def _pandas2_builtin(func: Any) -> bool:
    """pandas 2 swaps the builtins sum/max/min for its own reductions (with a FutureWarning)."""
    from pandas.core import common

    convert = getattr(common, "is_builtin_func", None)
    return PANDAS_MAJOR < 3 and convert is not None and convert(func) is not func


def apply_groups(
    groupby: Any,
    func: Callable[..., Any],
    *,
    include_groups: bool | None = None,
    args: tuple | list = (),
    kwargs: dict | None = None,
    **options: Any,
) -> Any:
    """``groupby.apply(func, *args, include_groups=..., **kwargs)`` of a pandas ``DataFrameGroupBy``
    or ``SeriesGroupBy``, with ``func``'s calls on rowpool (see :func:`groupby_apply`)."""
    _check(func, tuple(args) if isinstance(args, list) else args, kwargs)
    args, kwargs = tuple(args), dict(kwargs or {})
    is_frame = isinstance(groupby, DataFrameGroupBy)
    if include_groups is None:
        include_groups = PANDAS_MAJOR < 3
    if include_groups and PANDAS_MAJOR >= 3:
        raise ValueError("include_groups=True is no longer allowed.")  # pandas 3's own words
    pandas_options = {"include_groups": include_groups} if is_frame else {}
    if _pandas2_builtin(func) or getattr(groupby, "axis", 0) == 1:
        # pandas' own reduction, or pandas 2's groups of columns (few calls): nothing to spread
        return groupby.apply(func, *args, **pandas_options, **kwargs)
    with_groups = include_groups or not is_frame  # a SeriesGroupBy's values: nothing to exclude
    grouped, results, failures = _run_groups(groupby, func, with_groups, args, kwargs, options)
    if PANDAS_MAJOR < 3 and is_frame and include_groups and failures and _first_is_type_error(failures):
        # pandas 2 runs every group again without the grouping columns (gh-20949)
        first = min(failures)
        grouped, retried, failures = _run_groups(groupby, func, False, args, kwargs, options)
        results = results[:first] + [_RETRY_WITHOUT_GROUPS] + retried
    errors = options.get("errors", "raise")
    if failures and errors == "raise":
        _raise_first(grouped, failures)
    for code in failures:
        results[len(results) - grouped.ngroups + code] = np.nan
    result = _replay(groupby, results, include_groups)
    return (result, _failure_frame(grouped, failures)) if errors == "collect" else result


def groupby_apply(
    df: pd.DataFrame | pd.Series,
    by: Any = None,
    func: Callable[..., Any] | None = None,
    *,
    level: Any = None,
    group_keys: bool = True,
    dropna: bool = True,
    sort: bool = True,
    observed: Any = None,
    include_groups: bool | None = None,
    args: tuple | list = (),
    kwargs: dict | None = None,
    **options: Any,
) -> Any:
    """Parallel ``df.groupby(by, ...).apply(func, *args, **kwargs)``: the same result (pandas'
    shape and index for scalar, Series and DataFrame results, ``group_keys``, ``dropna``,
    ``sort``, ``observed``, ``level``), ``func`` called once per group in workers.

    ``func(group, *args, **kwargs)`` gets what pandas gives it: the group's rows with the
    original index and columns, its ``name`` the group's key; without the grouping columns when
    ``include_groups=False`` (pandas 3's only behaviour; pandas 2.2's default is ``True``, with its
    DeprecationWarning when grouping columns reach ``func``). ``df`` may also be a Series.

    The groups reach the workers through the shared-memory arena in chunks of whole groups,
    largest group first, so one huge group runs on one worker while the others share the rest.
    ``options`` are :func:`rowpool.map_batches`' (``workers``, ``errors``, ``progress`` (in
    groups), ``timeout``, ``retries``, ``max_worker_memory``, ``pool``, ``in_process``,
    ``init`` (``func(group, state, *args, **kwargs)``)). ``errors="raise"`` raises the failure of
    the first failing group in pandas' group order (a :class:`rowpool.RowError` labelled with the
    group's key), ``"coerce"`` makes a failed group's result NaN, ``"collect"`` returns
    ``(result, failures)`` indexed by group key.

        >>> rowpool.groupby_apply(df, "customer", lambda g: g["amount"].sum() / len(g))
        >>> df.rowpool.groupby("customer").apply(score_customer, workers=8)
    """
    if not isinstance(df, (pd.DataFrame, pd.Series)):
        raise TypeError(f"df must be a pandas DataFrame or Series, not {type(df).__name__}")
    if by is None and level is None:
        raise TypeError("groupby_apply() needs by= or level=")
    _check(func, tuple(args) if isinstance(args, list) else args, kwargs)
    grouping: dict[str, Any] = {"level": level, "sort": sort, "group_keys": group_keys, "dropna": dropna}
    if observed is not None:
        grouping["observed"] = observed
    groupby = df.groupby(by, **grouping)
    assert func is not None  # checked above
    return apply_groups(groupby, func, include_groups=include_groups, args=args, kwargs=kwargs, **options)
