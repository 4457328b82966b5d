"""Errors raised by the applied function, by pickling, and by the engine, as the caller sees them.

Every test ends by running another job on the same Pool: an error must never leave it unusable.
"""

from __future__ import annotations

import importlib
import math
import pickle
import shutil
import sys
import threading
import time
import uuid

import numpy as np
import pandas as pd
import pytest

import rowpool

pytestmark = pytest.mark.timeout(60)


def frame(n=40, index=None):
    return pd.DataFrame({"a": np.arange(n, dtype=np.int64), "b": np.linspace(0.0, 1.0, n)}, index=index)


def double(row):
    return row["a"] * 2


def assert_pool_works(pool):
    df = frame(25)
    pd.testing.assert_series_equal(pool.apply(df, double), df.apply(double, axis=1))


def fails_on_13(row):
    if row["a"] == 13:
        raise ValueError(f"bad row {row.name}")
    return row["a"] * 2


# -- errors="raise" ------------------------------------------------------------------------------


def test_raise_is_row_error_and_original_type(pool):
    df = frame(40, index=[f"r{i}" for i in range(40)])
    with pytest.raises(ValueError) as info:
        pool.apply(df, fails_on_13)
    error = info.value
    assert isinstance(error, rowpool.RowError)
    assert isinstance(error, rowpool.RowpoolError)
    assert error.label == "r13"
    assert error.position == 13
    assert error.exc_type == "ValueError"
    assert error.message == "bad row r13"
    assert "fails_on_13" in error.worker_traceback
    assert 'raise ValueError(f"bad row {row.name}")' in error.worker_traceback
    assert "r13" in str(error) and "ValueError" in str(error)
    assert_pool_works(pool)


def test_raise_catchable_as_key_error_and_pickles(pool):
    df = frame(10, index=pd.MultiIndex.from_tuples([("x", i) for i in range(10)]))

    def f(row):
        return {"k": 1}[row["a"]]  # KeyError for every row but none

    with pytest.raises(KeyError) as info:
        pool.apply(df, f)
    error = info.value
    assert error.label == ("x", 0)
    assert error.exc_type == "KeyError"
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, KeyError) and isinstance(again, rowpool.RowError)
    assert again.label == ("x", 0) and again.worker_traceback == error.worker_traceback
    assert_pool_works(pool)


def test_raise_reports_first_failing_row_even_when_a_later_chunk_fails_first(pool, tmp_path):
    log = tmp_path / "order.log"
    df = frame(60)

    def f(row):
        if row["a"] == 2:
            time.sleep(1.0)
            with open(log, "a") as fh:
                fh.write("early\n")
            raise ValueError("early row")
        if row["a"] == 47:
            with open(log, "a") as fh:
                fh.write("late\n")
            raise KeyError("late row")
        return row["a"]

    with pytest.raises(ValueError) as info:
        pool.apply(df, f, chunk_rows=3)
    assert not isinstance(info.value, KeyError)
    assert info.value.label == 2
    assert info.value.message == "early row"
    # The scenario really happened: the later chunk failed before the early one.
    assert log.read_text().split() == ["late", "early"]
    assert_pool_works(pool)


class Boom(Exception):
    pass


def test_raise_subclass_type_defined_in_test_module(pool):
    def f(row):
        if row["a"] == 5:
            raise Boom("boom")
        return 1

    with pytest.raises(Boom) as info:
        pool.apply(frame(10), f)
    assert info.value.label == 5
    assert info.value.exc_type.endswith("Boom")
    assert_pool_works(pool)


# -- errors="coerce" and "collect" ---------------------------------------------------------------


def _none_on_failure(func):
    def wrapper(row):
        try:
            return func(row)
        except Exception:
            return None

    return wrapper


def _sometimes_float(row):
    if row["a"] % 7 == 3:
        raise ValueError("seven")
    return row["b"] * 10


def _sometimes_int(row):
    if row["a"] % 5 == 1:
        raise ArithmeticError("five")
    return int(row["a"]) * 3


def _sometimes_str(row):
    if row["a"] % 4 == 0:
        raise LookupError("four")
    return f"s{row['a']}"


@pytest.mark.parametrize("func", [_sometimes_float, _sometimes_int, _sometimes_str])
def test_coerce_matches_pandas_with_none_on_failure(pool, func):
    df = frame(60, index=np.arange(100, 160))
    expected = df.apply(_none_on_failure(func), axis=1)
    result = pool.apply(df, func, errors="coerce", chunk_rows=7)
    pd.testing.assert_series_equal(result, expected)
    failed = [i for i in range(60) if _none_on_failure(func)(df.iloc[i]) is None]
    assert failed, "the function must fail somewhere"
    assert result.iloc[failed].isna().all()
    assert result.drop(result.index[failed]).notna().all()
    assert_pool_works(pool)


def test_collect_returns_result_and_failures_frame(pool):
    df = frame(50, index=[f"id{i}" for i in range(50)])
    result, failures = pool.apply(df, _sometimes_float, errors="collect", chunk_rows=6)
    pd.testing.assert_series_equal(result, df.apply(_none_on_failure(_sometimes_float), axis=1))
    expected_labels = [f"id{i}" for i in range(50) if i % 7 == 3]
    assert list(failures.index) == expected_labels
    assert list(failures.columns) == ["exception", "message", "traceback"]
    assert (failures["exception"] == "ValueError").all()
    assert (failures["message"] == "seven").all()
    assert failures["traceback"].str.contains("_sometimes_float").all()
    assert failures["traceback"].str.contains('raise ValueError\\("seven"\\)').all()
    assert_pool_works(pool)


def test_collect_without_failures_gives_empty_frame(pool):
    df = frame(20)
    result, failures = pool.apply(df, double, errors="collect")
    pd.testing.assert_series_equal(result, df.apply(double, axis=1))
    assert len(failures) == 0
    assert list(failures.columns) == ["exception", "message", "traceback"]


# -- pickling -----------------------------------------------------------------------------------


def test_unpicklable_func_raises_serialization_error_before_any_worker(pool, monkeypatch):
    lock = threading.Lock()

    def locked(row):
        with lock:
            return row["a"]

    started = []
    monkeypatch.setattr(rowpool._workers.WorkerPool, "start_job", lambda self, payload: started.append(1))
    monkeypatch.setattr(rowpool._workers.WorkerPool, "spawn", lambda self: started.append(2), raising=True)
    for call in (
        lambda: rowpool.apply(frame(10), locked, workers=2),
        lambda: pool.apply(frame(10), locked),
        lambda: rowpool.map_batches(frame(10), locked, workers=2),
    ):
        with pytest.raises(rowpool.SerializationError) as info:
            call()
        assert isinstance(info.value, TypeError)
        assert "func" in str(info.value)
        assert "lock" in str(info.value).lower()
    assert started == []
    monkeypatch.undo()
    assert_pool_works(pool)


def test_unpicklable_argument_is_named(pool):
    with pytest.raises(rowpool.SerializationError, match="args"):
        pool.apply(frame(5), lambda row, lk: 1, args=(threading.Lock(),))
    with pytest.raises(rowpool.SerializationError, match="kwargs"):
        pool.apply(frame(5), lambda row, lk: 1, kwargs={"lk": threading.Lock()})
    assert_pool_works(pool)


@pytest.fixture
def vanishing_module(tmp_path):
    """A function from a module the parent imported but the workers cannot import."""
    name = f"rowpool_ghost_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "ghost"
    folder.mkdir()
    (folder / f"{name}.py").write_text("def f(row):\n    return row['a'] + 1\n")
    sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))
    shutil.rmtree(folder)
    yield name, module.f
    sys.modules.pop(name, None)


def test_function_whose_module_cannot_be_imported_in_worker(pool, vanishing_module):
    name, func = vanishing_module
    started = time.monotonic()
    with pytest.raises(rowpool.SerializationError) as info:
        pool.apply(frame(10), func)
    assert time.monotonic() - started < 20
    assert name in str(info.value)
    assert "ModuleNotFoundError" in str(info.value)
    assert_pool_works(pool)


def _lock_at_7(row):
    return threading.Lock() if row["a"] == 7 else row["a"] * 1.5


def test_unpicklable_result_raise(pool):
    df = frame(20, index=np.arange(20) * 10)
    with pytest.raises(rowpool.SerializationError) as info:
        pool.apply(df, _lock_at_7, chunk_rows=5)
    error = info.value
    assert isinstance(error, rowpool.RowError) and isinstance(error, TypeError)
    assert error.label == 70
    assert "pickle" in error.message and "lock" in error.message
    assert_pool_works(pool)


@pytest.mark.parametrize("errors", ["coerce", "collect"])
def test_unpicklable_result_coerce_and_collect(pool, errors):
    df = frame(20, index=np.arange(20) * 10)
    out = pool.apply(df, _lock_at_7, errors=errors, chunk_rows=5)
    result = out[0] if errors == "collect" else out
    expected = df.apply(lambda r: None if r["a"] == 7 else r["a"] * 1.5, axis=1)
    pd.testing.assert_series_equal(result, expected)
    if errors == "collect":
        failures = out[1]
        assert list(failures.index) == [70]
        assert "SerializationError" in failures["exception"].iloc[0]
    assert_pool_works(pool)


# -- exception types that resist being wrapped ---------------------------------------------------


class FinalError(Exception):
    def __init_subclass__(cls, **kwargs):
        raise TypeError("FinalError cannot be subclassed")


class StubbornError(Exception):
    def __init_subclass__(cls, **kwargs):
        raise RuntimeError("no subclasses, and not even a TypeError about it")


class TwoArgError(Exception):
    def __init__(self, a, b):
        super().__init__(a, b)


class BadStrError(Exception):
    def __str__(self):
        raise RuntimeError("no str for you")


def _raiser(kind):
    def f(row):
        if row["a"] == 3:
            if kind == "final":
                raise FinalError("final")
            if kind == "stubborn":
                raise StubbornError("stubborn")
            if kind == "twoarg":
                raise TwoArgError("x", "y")
            if kind == "badstr":
                raise BadStrError()
            if kind == "unicode":
                b"\xff".decode("utf-8")
            if kind == "local":

                class LocalError(Exception):
                    pass

                raise LocalError("local")
            if kind == "oserror":
                open("/nonexistent/rowpool/file")
            if kind == "systemexit":
                raise SystemExit(4)
        return 0

    return f


@pytest.mark.parametrize(
    "kind, isinstance_of, exc_type_part",
    [
        ("final", (), "FinalError"),
        ("stubborn", (), "StubbornError"),
        ("twoarg", (TwoArgError,), "TwoArgError"),
        ("badstr", (BadStrError,), "BadStrError"),
        ("unicode", (UnicodeError, ValueError), "UnicodeDecodeError"),
        ("local", (), "LocalError"),
        ("oserror", (FileNotFoundError, OSError), "FileNotFoundError"),
        ("systemexit", (), "SystemExit"),
    ],
)
def test_awkward_exception_types_still_give_row_error(pool, kind, isinstance_of, exc_type_part):
    with pytest.raises(rowpool.RowError) as info:
        pool.apply(frame(8), _raiser(kind))
    error = info.value
    assert error.label == 3
    assert exc_type_part in error.exc_type
    for cls in isinstance_of:
        assert isinstance(error, cls)
    assert "Traceback" in error.worker_traceback
    str(error)  # must not raise
    assert_pool_works(pool)


def test_bad_str_exception_message_is_a_placeholder(pool):
    with pytest.raises(BadStrError) as info:
        pool.apply(frame(8), _raiser("badstr"))
    assert "str()" in info.value.message


# -- map_batches ----------------------------------------------------------------------------------


def _batch_fails_on_25(chunk):
    if (chunk["a"] == 25).any():
        raise ZeroDivisionError("chunk with 25")
    return chunk["a"] * 2


def test_map_batches_raise(pool):
    df = frame(40, index=[f"r{i}" for i in range(40)])
    with pytest.raises(ZeroDivisionError) as info:
        pool.map_batches(df, _batch_fails_on_25, chunk_rows=10)
    assert isinstance(info.value, rowpool.RowError)
    assert info.value.label == "r20"  # the failing chunk's first row
    assert "_batch_fails_on_25" in info.value.worker_traceback
    assert_pool_works(pool)


def test_map_batches_coerce_and_collect(pool):
    df = frame(40, index=[f"r{i}" for i in range(40)])
    expected = (df["a"] * 2).astype(float)
    expected.iloc[20:30] = math.nan
    result = pool.map_batches(df, _batch_fails_on_25, chunk_rows=10, errors="coerce")
    pd.testing.assert_series_equal(result, expected)
    result, failures = pool.map_batches(df, _batch_fails_on_25, chunk_rows=10, errors="collect")
    pd.testing.assert_series_equal(result, expected)
    assert list(failures.index) == ["r20"]
    assert failures["exception"].iloc[0] == "ZeroDivisionError"
    assert_pool_works(pool)


def test_map_batches_coerce_dataframe_results(pool):
    df = frame(30)

    def f(chunk):
        if chunk["a"].iloc[0] == 10:
            raise ValueError("middle chunk")
        return pd.DataFrame({"x": chunk["a"] + 1, "y": chunk["b"]})

    result = pool.map_batches(df, f, chunk_rows=10, errors="coerce")
    expected = pd.DataFrame({"x": (df["a"] + 1).astype(float), "y": df["b"]})
    expected.iloc[10:20] = math.nan
    pd.testing.assert_frame_equal(result, expected)
    assert_pool_works(pool)


def test_map_batches_unpicklable_result(pool):
    def f(chunk):
        return threading.Lock() if chunk["a"].iloc[0] == 5 else len(chunk)

    with pytest.raises(rowpool.SerializationError) as info:
        pool.map_batches(frame(15), f, chunk_rows=5)
    assert info.value.label == 5
    assert_pool_works(pool)


# -- no pool given: the temporary pool is cleaned up after an error ------------------------------


def test_temporary_pool_after_row_error_leaves_nothing():
    with pytest.raises(ValueError):
        rowpool.apply(frame(30), fails_on_13, workers=2)
    # the autouse leak check verifies that no worker is left
