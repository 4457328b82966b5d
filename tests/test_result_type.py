"""``rowpool.apply(..., raw=, result_type=)`` and string/list/dict ``func``: pandas' semantics."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import rowpool

pytestmark = pytest.mark.timeout(90)

FRAME = pd.DataFrame({"a": [1, 2, 3, 4], "b": [0.5, 1.5, 2.5, 3.5]}, index=list("wxyz"))
FUNCS = {
    "scalar": lambda r: r["a"] + r["b"],
    "list": lambda r: [r["a"], r["b"] * 2],
    "tuple3": lambda r: (1, 2, 3),
    "series": lambda r: pd.Series({"p": r["a"], "q": "s"}),
    "dict": lambda r: {"k": r["a"]},
    "same_length_list": lambda r: [r["a"] * 10, 0],
}


def assert_same(got, expected):
    assert type(got) is type(expected)
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected)
    else:
        pd.testing.assert_series_equal(got, expected)


def pandas_or_error(df, func, **options):
    try:
        return df.apply(func, axis=1, **options), None
    except Exception as exc:  # noqa: BLE001 - rowpool must raise the same type
        return None, type(exc)


@pytest.mark.parametrize("result_type", [None, "expand", "reduce", "broadcast"])
@pytest.mark.parametrize("name", list(FUNCS))
def test_result_type_like_pandas(pool, name, result_type):
    func = FUNCS[name]
    expected, error = pandas_or_error(FRAME, func, result_type=result_type)
    if error is not None:
        with pytest.raises(error):
            rowpool.apply(FRAME, func, result_type=result_type, pool=pool)
        return
    assert_same(rowpool.apply(FRAME, func, result_type=result_type, pool=pool, chunk_rows=1), expected)


RAW_FUNCS = {
    "sum": lambda r: r.sum(),
    "double": lambda r: r * 2,
    "type": lambda r: f"{type(r).__name__}:{r.dtype}",
    "first_gt": lambda r: r[0] > 2,
}


@pytest.mark.parametrize("result_type", [None, "broadcast"])
@pytest.mark.parametrize("name", list(RAW_FUNCS))
def test_raw_rows_are_numpy_arrays_like_pandas(pool, name, result_type):
    func = RAW_FUNCS[name]
    expected, error = pandas_or_error(FRAME, func, raw=True, result_type=result_type)
    if error is not None:
        with pytest.raises(error):
            rowpool.apply(FRAME, func, raw=True, result_type=result_type, pool=pool)
        return
    assert_same(
        rowpool.apply(FRAME, func, raw=True, result_type=result_type, pool=pool, chunk_rows=2), expected
    )


def test_raw_runs_in_workers_once_per_row(tmp_path):
    log = tmp_path / "calls"

    def logged(values):
        import os as _os

        with open(log, "a") as out:
            out.write(f"{_os.getpid()}\n")
        return values.sum()

    got = rowpool.apply(FRAME, logged, raw=True, workers=2, in_process=False, chunk_rows=1)
    pd.testing.assert_series_equal(got, FRAME.apply(lambda r: r.sum(), axis=1, raw=True))
    pids = log.read_text().split()
    assert len(pids) == len(FRAME) and str(os.getpid()) not in pids


@pytest.mark.parametrize(
    "func", ["sum", "len", ["sum", "max"], [len], {"a": "sum"}, np.sum, np.sqrt], ids=repr
)
def test_string_list_dict_and_ufunc_like_pandas(func):
    expected, error = pandas_or_error(FRAME, func)
    if error is not None:
        with pytest.raises(error):
            rowpool.apply(FRAME, func)
        return
    assert_same(rowpool.apply(FRAME, func), expected)


def test_result_type_with_coerce_and_collect(pool):
    def fail_on_2(row):
        if row["a"] == 2:
            raise ValueError("two")
        return [row["a"], 1]

    got = rowpool.apply(FRAME, fail_on_2, result_type="reduce", errors="coerce", pool=pool)
    assert got.tolist()[0] == [1.0, 1] and got.tolist()[1] is None
    _, failures = rowpool.apply(FRAME, fail_on_2, result_type="expand", errors="collect", pool=pool)
    assert failures.index.tolist() == ["x"]


def test_raw_and_result_type_argument_checks():
    with pytest.raises(ValueError, match="result_type"):
        rowpool.apply(FRAME, len, result_type="wide")
    with pytest.raises(TypeError, match="raw"):
        rowpool.apply(FRAME, len, raw="yes")
    with pytest.raises(ValueError, match="raw=True"):
        rowpool.apply(FRAME, len, raw=True, errors="coerce")
