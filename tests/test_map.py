"""``rowpool.map(series, func, na_action)`` and ``series.rowpool.map``: exactly ``Series.map``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rowpool

pytestmark = pytest.mark.timeout(90)

SERIES = {
    "int": pd.Series([3, 1, 2, 5], index=list("abcd"), name="n"),
    "float_nan": pd.Series([1.5, np.nan, 2.5, 4.0], name="x"),
    "Int64": pd.Series([1, None, 3, 4], dtype="Int64"),
    "str": pd.Series(["a", None, "ccc", "dd"], name="s"),
    "object": pd.Series([(1, 2), "x", None, 3.5], dtype=object),
    "categorical": pd.Series(pd.Categorical(["u", "v", None, "u"]), name="c"),
    "datetime_tz": pd.Series(pd.date_range("2024-01-01", periods=4, freq="h", tz="Europe/Paris")),
    "bool": pd.Series([True, False, True, True]),
    "duplicate_labels": pd.Series([1.0, 2.0, 3.0], index=[7, 7, 8]),
    "empty": pd.Series([], dtype="float64", name="e"),
}

FUNCS = {
    "type_name": lambda x: type(x).__name__,
    "repr": repr,
    "is_na": lambda x: x is None or x is pd.NA or (isinstance(x, float) and x != x),
    "pair": lambda x: (x, 1),
    "maybe_none": lambda x: None if str(x) < "2" else 1.0,
    "str_len": lambda x: len(str(x)),
}


@pytest.mark.parametrize("na_action", [None, "ignore"])
@pytest.mark.parametrize("name", list(SERIES))
def test_map_like_pandas(pool, name, na_action):
    series = SERIES[name]
    for func_name, func in FUNCS.items():
        try:
            expected = series.map(func, na_action=na_action)
        except Exception as exc:  # noqa: BLE001 - e.g. pandas 2.2 on tuples from a categorical
            with pytest.raises(type(exc)):
                rowpool.map(series, func, na_action=na_action, pool=pool, chunk_rows=2)
            continue
        got = rowpool.map(series, func, na_action=na_action, pool=pool, chunk_rows=2)
        pd.testing.assert_series_equal(got, expected, obj=f"{name}/{func_name}")
        assert [type(v) for v in got] == [type(v) for v in expected], func_name


def test_accessor_and_calls_in_workers_once_per_value(tmp_path):
    series = pd.Series(range(10), name="k")
    log = tmp_path / "calls"

    def logged(x):
        import os

        with open(log, "a") as out:
            out.write(f"{x} {os.getpid()}\n")
        return x * 2

    got = series.rowpool.map(logged, workers=2, chunk_rows=3)
    pd.testing.assert_series_equal(got, series.map(lambda x: x * 2))
    calls = [line.split() for line in log.read_text().splitlines()]
    assert sorted(int(x) for x, _ in calls) == list(range(10))
    import os

    assert str(os.getpid()) not in {pid for _, pid in calls}


def test_map_keeps_attrs_and_subclass(pool):
    class Tagged(pd.Series):
        @property
        def _constructor(self):
            return Tagged

    series = Tagged([1, 2, 3], name="t")
    series.attrs["unit"] = "m"
    got = rowpool.map(series, lambda x: x + 1, pool=pool)
    expected = series.map(lambda x: x + 1)
    assert type(got) is type(expected) is Tagged
    assert got.attrs == expected.attrs == {"unit": "m"}


def test_map_errors(pool):
    series = pd.Series([1, 0, 2], index=["a", "b", "c"])
    with pytest.raises(rowpool.RowError) as info:
        rowpool.map(series, lambda x: 1 / x, pool=pool)
    assert isinstance(info.value, ZeroDivisionError) and info.value.label == "b"
    coerced = rowpool.map(series, lambda x: 1 / x, pool=pool, errors="coerce")
    pd.testing.assert_series_equal(coerced, pd.Series([1.0, np.nan, 0.5], index=["a", "b", "c"]))
    result, failures = rowpool.map(series, lambda x: 1 / x, pool=pool, errors="collect")
    assert failures.index.tolist() == ["b"] and failures["exception"].tolist() == ["ZeroDivisionError"]


def test_map_state_args_and_kwargs_follow_the_value(pool):
    series = pd.Series([1, 2, 3])

    def func(x, state, k, *, m):
        return x * k + m + state

    got = rowpool.map(series, func, init=lambda: 100, args=(10,), kwargs={"m": 1}, pool=pool)
    assert got.tolist() == [111, 121, 131]


def test_map_argument_checks():
    with pytest.raises(TypeError, match="series must be a pandas Series"):
        rowpool.map(pd.DataFrame({"a": [1]}), str)
    with pytest.raises(TypeError, match="func must be callable"):
        rowpool.map(pd.Series([1]), {1: 2})
    with pytest.raises(ValueError, match="na_action"):
        rowpool.map(pd.Series([1]), str, na_action="skip")
    with pytest.raises(TypeError, match="row_type"):
        rowpool.map(pd.Series([1]), str, row_type="series")
