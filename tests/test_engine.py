"""pandas' execution-engine hook: ``df.apply(f, axis=1, engine=rowpool.engine)`` and
``series.map(f, engine=rowpool.engine)`` give pandas' own results, computed by rowpool."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pandas as pd
import pytest

import rowpool
from rowpool._pandas import engine as _engine

pytestmark = pytest.mark.timeout(90)

needs_hook = pytest.mark.skipif(_engine.PANDAS_MAJOR < 3, reason="pandas 2 has no engine hook")

FRAME = pd.DataFrame(
    {"a": [1, 2, 3, 4, 5], "b": [0.5, 1.5, np.nan, 3.5, 4.5], "s": ["x", "y", None, "w", "v"]},
    index=list("pqrst"),
)
ROW_FUNCS = {
    "scalar": lambda r: r["a"] * 2 + (0 if r["s"] is None else len(str(r["s"]))),
    "series": lambda r: pd.Series({"twice": r["a"] * 2, "s": r["s"]}),
    "dict": lambda r: {"k": r["a"]},
    "tuple": lambda r: (r["a"], r["b"]),
    "str": lambda r: f"{r['a']}-{r['s']}",
}


@needs_hook
@pytest.mark.parametrize("name", list(ROW_FUNCS))
def test_dataframe_apply_rows_with_the_engine_like_pandas(pool, name):
    func = ROW_FUNCS[name]
    expected = FRAME.apply(func, axis=1)
    got = FRAME.apply(func, axis=1, engine=rowpool.engine(pool=pool, chunk_rows=2))
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected)
    else:
        pd.testing.assert_series_equal(got, expected)


@needs_hook
def test_engine_runs_rows_in_workers_with_args_and_kwargs():
    def func(row, k, *, m):
        return (row["a"] * k + m, os.getpid())

    got = FRAME.apply(
        func, axis="columns", args=(10,), m=1, engine=rowpool.engine(workers=2, in_process=False)
    )
    assert [v for v, _ in got] == [11, 21, 31, 41, 51]
    assert os.getpid() not in {pid for _, pid in got}


@needs_hook
@pytest.mark.parametrize(
    "func", [lambda r: r.sum(), lambda r: r * 2, lambda r: str(r.dtype), lambda r: r[0] > 2], ids=str
)
@pytest.mark.parametrize("values", ["float", "object"])
def test_raw_rows_with_the_engine_like_pandas(pool, func, values):
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 1.5, 2.5]})
    if values == "object":
        df = df.astype(object).assign(c=["x", None, "z"]).drop(columns="b")
    try:
        expected = df.apply(func, axis=1, raw=True)
    except TypeError:
        with pytest.raises(TypeError):
            df.apply(func, axis=1, raw=True, engine=rowpool.engine(pool=pool))
        return
    got = df.apply(func, axis=1, raw=True, engine=rowpool.engine(pool=pool, chunk_rows=1))
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected)
    else:
        pd.testing.assert_series_equal(got, expected)


@needs_hook
def test_column_apply_with_the_engine_runs_in_pandas():
    pd.testing.assert_series_equal(
        FRAME[["a", "b"]].apply(lambda c: c.sum(), engine=rowpool.engine),
        FRAME[["a", "b"]].apply(lambda c: c.sum()),
    )


@needs_hook
@pytest.mark.parametrize("na_action", [None, "ignore"])
def test_series_map_with_the_engine_like_pandas(pool, na_action):
    series = pd.Series([1.5, np.nan, 3.0], index=["u", "v", "w"], name="x")
    series.attrs["unit"] = "kg"
    func = lambda x: type(x).__name__  # noqa: E731
    got = series.map(func, na_action=na_action, engine=rowpool.engine(pool=pool))
    expected = series.map(func, na_action=na_action)
    pd.testing.assert_series_equal(got, expected)
    assert got.attrs == expected.attrs


@needs_hook
def test_engine_options_checked():
    with pytest.raises(TypeError, match="unexpected options"):
        rowpool.engine(worker=2)
    with pytest.raises(ValueError, match="collect"):
        rowpool.engine(errors="collect")
    assert "workers=3" in repr(rowpool.engine(workers=3))


@needs_hook
def test_engine_errors_option_applies():
    got = FRAME.apply(lambda r: 1 / (r["a"] - 3), axis=1, engine=rowpool.engine(errors="coerce", workers=1))
    assert np.isnan(got["r"]) and got["p"] == -0.5


@pytest.mark.skipif(_engine.PANDAS_MAJOR >= 3, reason="pandas 3 has the hook")
def test_engine_on_pandas_2_says_the_hook_needs_pandas_3():
    with pytest.raises(ImportError, match="needs pandas >= 3.0"):
        rowpool.engine(workers=2)


def test_series_apply_has_no_engine_hook_and_hands_engine_to_func():
    # pandas 3.1 routes engine= to __pandas_udf__ from DataFrame.apply and Series.map
    # only; Series.apply passes it on to func like any keyword. A pandas that adds the hook to
    # Series.apply fails here: then check that rowpool's engine serves it, and update the README
    # and rowpool.engine's docstring.
    assert "engine" not in inspect.signature(pd.Series.apply).parameters
    got = pd.Series([1.0, 2.0]).apply(lambda x, **kwargs: (x, kwargs), engine=rowpool.engine)
    assert got.tolist() == [(1.0, {"engine": rowpool.engine}), (2.0, {"engine": rowpool.engine})]
