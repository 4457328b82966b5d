"""pytest plugin: pandas' own tests, with ``DataFrame.apply(axis=1)``, ``Series.map``,
``Series.apply`` and ``groupby(...).apply`` computed by rowpool.

Loaded with ``-p plugin`` into a pytest run over the test files of the installed pandas
(``pandas/tests/...``, shipped in pandas' wheels). For the whole session those pandas methods are
replaced by wrappers that hand every call with a callable ``func`` to rowpool (``rowpool.apply``,
``rowpool.map``, ``rowpool.groupby_apply``) on one warm ``rowpool.Pool``: ``func`` runs in
worker processes, never in the test's process. Calls rowpool makes itself (pandas shaping results
from rowpool's values) go to pandas' own methods. Calls rowpool does not take over (column-wise
applies, string/list/dict funcs, ``engine="numba"``, mappings) stay pandas'.

The tests that cannot pass because they need ``func``'s side effects in the calling process are
listed in ``expected_failures.py`` with the reason, and marked ``xfail(strict=True)``: one that
starts passing fails the run, so the list stays exact. The terminal summary ends with one line,
``rowpool conformance: <calls> calls routed to rowpool in <tests> tests; <n> tests listed as
expected failures``.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pandas._testing as tm
import pytest
from pandas.core.groupby.generic import DataFrameGroupBy, SeriesGroupBy

import rowpool
from rowpool._pandas.groupby import apply_groups

from .expected_failures import EXPECTED_FAILURES

_inside = threading.local()  # set while a routed call runs: rowpool's own pandas calls stay pandas'
_routed_calls = 0
_tests_routed: set[str] = set()
_current_test = ""
_expected_failures = 0
_pool: rowpool.Pool | None = None


def _route(original):
    """``original`` (a pandas method), with ``rowpool_call(bound arguments)`` run instead of it when
    ``rowpool_call`` accepts the call (returns a value other than ``NotImplemented``)."""
    signature = inspect.signature(original)

    def decorate(rowpool_call):
        @functools.wraps(original)
        def routed(*args, **kwargs):
            if getattr(_inside, "active", False) or _pool is None:
                return original(*args, **kwargs)
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return original(*args, **kwargs)  # pandas raises its own TypeError
            bound.apply_defaults()
            _inside.active = True
            try:
                result = rowpool_call(dict(bound.arguments))
            finally:
                _inside.active = False
            if result is NotImplemented:
                return original(*args, **kwargs)
            _count_routed()
            return result

        routed.rowpool_original = original
        return routed

    return decorate


def _count_routed() -> None:
    global _routed_calls
    _routed_calls += 1
    _tests_routed.add(_current_test)


def _per_call(func) -> bool:
    """pandas calls ``func`` once per row / value (not a method name, list, dict or ufunc)."""
    return callable(func) and not isinstance(func, (np.ufunc, Mapping, pd.Series))


def _frame_apply(arguments: dict):
    func, axis = arguments["func"], arguments["axis"]
    if axis not in (1, "columns") or not _per_call(func) or arguments["engine"] not in (None, "python"):
        return NotImplemented
    return rowpool.apply(
        arguments["self"],
        func,
        raw=arguments["raw"],
        result_type=arguments["result_type"],
        args=tuple(arguments["args"]),
        kwargs=arguments["kwargs"],
        pool=_pool,
    )


def _series_map(arguments: dict):
    func = arguments.get("func", arguments.get("arg"))
    if not _per_call(func) or arguments.get("engine") is not None:
        return NotImplemented
    return rowpool.map(
        arguments["self"], func, arguments["na_action"], kwargs=arguments.get("kwargs", {}), pool=_pool
    )


class _Boxed:
    """``func``'s result in a 1-tuple: ``rowpool.map`` of an object Series then hands back every
    raw value unchanged (an object Series of tuples), for pandas' ``Series.apply`` to shape."""

    def __init__(self, func, args: tuple, kwargs: dict):
        self.func, self.args, self.kwargs = func, args, kwargs

    def __call__(self, value):
        return (self.func(value, *self.args, **self.kwargs),)


def _series_apply(arguments: dict):
    """pandas decides what ``func`` is called with (for a categorical: its categories) and shapes
    the results: a first pass of pandas' own ``Series.apply`` records the arguments, rowpool calls
    ``func`` on them, a second pass hands pandas the results in the same order."""
    func, series = arguments["func"], arguments["self"]
    args, kwargs = tuple(arguments["args"]), arguments["kwargs"]
    if not _per_call(func) or arguments["by_row"] != "compat":
        return NotImplemented
    if arguments.get("convert_dtype", pd.api.extensions.no_default) is not pd.api.extensions.no_default:
        return NotImplemented  # pandas 2's deprecated convert_dtype: pandas' own path and warning
    calls: list = []

    def record(value, *_args, **_kwargs):
        calls.append(value)
        return len(calls)  # distinct results: pandas takes the path a real func takes

    series.apply(record, args=args, **kwargs)
    boxed = rowpool.map(pd.Series(calls, dtype=object), _Boxed(func, args, kwargs), pool=_pool)
    results = iter([box[0] for box in boxed])
    return series.apply(lambda *_ignored, **_also: next(results), args=args, **kwargs)


def _groupby_apply(arguments: dict):
    func = arguments["func"]
    if not callable(func) or isinstance(func, str):
        return NotImplemented
    return apply_groups(
        arguments["self"],
        func,
        include_groups=arguments.get("include_groups"),
        args=tuple(arguments["args"]),
        kwargs=arguments["kwargs"],
        pool=_pool,
    )


_PATCHES = (
    (pd.DataFrame, "apply", _frame_apply),
    (pd.Series, "map", _series_map),
    (pd.Series, "apply", _series_apply),
    (DataFrameGroupBy, "apply", _groupby_apply),
    (SeriesGroupBy, "apply", _groupby_apply),
)


def _warning_location_unchecked(original):
    """A warning pandas raises inside a routed call points at rowpool's frame (pandas attributes
    it to the first caller outside pandas), not at the test: warnings are checked for their type
    and message only."""

    @functools.wraps(original)
    def checked(*args, **kwargs):
        kwargs["check_stacklevel"] = False
        return original(*args, **kwargs)

    checked.rowpool_original = original
    return checked


def pytest_configure(config):
    global _pool
    tm.assert_produces_warning = _warning_location_unchecked(tm.assert_produces_warning)
    _pool = rowpool.Pool(workers=2)
    for owner, name, rowpool_call in _PATCHES:
        setattr(owner, name, _route(getattr(owner, name))(rowpool_call))


def pytest_unconfigure(config):
    global _pool
    for owner, name, _call in _PATCHES:
        setattr(owner, name, getattr(owner, name).rowpool_original)
    tm.assert_produces_warning = tm.assert_produces_warning.rowpool_original
    if _pool is not None:
        _pool.close()
        _pool = None


def pytest_collection_modifyitems(config, items):
    global _expected_failures
    for item in items:
        test = f"{item.path.name}::{item.originalname}"
        reason = EXPECTED_FAILURES.get(f"{item.path.name}::{item.name}") or EXPECTED_FAILURES.get(test)
        if reason is not None:
            item.add_marker(pytest.mark.xfail(reason=f"rowpool: {reason}", strict=True))
            _expected_failures += 1


def pytest_runtest_setup(item):
    global _current_test
    _current_test = item.nodeid


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(
        f"rowpool conformance: {_routed_calls} calls routed to rowpool in {len(_tests_routed)} tests; "
        f"{_expected_failures} tests listed as expected failures"
    )
