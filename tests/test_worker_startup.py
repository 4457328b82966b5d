"""What a worker needs before and while reading rows: deferred pandas import, string columns read
without pandas, native thread pool sizes."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import rowpool
from rowpool import _core
from rowpool._deferred_imports import DeferringFinder
from rowpool._launch import THREAD_POOL_VARIABLES, default_workers

# A package whose modules record each execution: pkg/__init__ imports pkg.sub, which imports leaf.
FAKE_PACKAGE = {
    "pkg/__init__.py": "import sys; sys.executed.append('pkg'); from pkg import sub\nVALUE = 1\n",
    "pkg/sub/__init__.py": "import sys; sys.executed.append('pkg.sub'); from pkg.sub import leaf\n",
    "pkg/sub/leaf.py": "import sys; sys.executed.append('pkg.sub.leaf')\nLEAF = 2\n",
}


@pytest.fixture
def deferring(tmp_path, monkeypatch):
    """An active DeferringFinder for the fake package ``pkg``; sys.modules and meta_path restored."""
    for relative, source in FAKE_PACKAGE.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "executed", [], raising=False)
    finder = DeferringFinder(["pkg"]).install()
    finder.active = True
    yield finder
    sys.meta_path.remove(finder)
    for name in [n for n in sys.modules if n == "pkg" or n.startswith("pkg.")]:
        del sys.modules[name]


def test_a_deferred_package_runs_on_first_attribute_access(deferring):
    import pkg

    assert sys.executed == []
    assert pkg.VALUE == 1
    assert sys.executed == ["pkg", "pkg.sub", "pkg.sub.leaf"]
    assert sys.modules["pkg"] is pkg


def test_importing_a_submodule_of_a_lazy_package_runs_every_module_once(deferring):
    import pkg

    deferring.active = False  # later imports, as in a row: pkg stays lazy until touched
    import pkg.sub.leaf

    assert sys.executed == ["pkg", "pkg.sub", "pkg.sub.leaf"]
    assert pkg.sub is sys.modules["pkg.sub"]
    assert pkg.sub.leaf.LEAF == 2
    assert sys.modules["pkg.sub"].__spec__.name == "pkg.sub"
    assert sys.modules["pkg.sub"].__spec__.loader is not None
    assert type(sys.modules["pkg.sub"].__spec__.loader).__name__ != "_AlreadyLoaded"


def test_a_submodule_as_first_import_runs_every_module_once(deferring):
    from pkg.sub import leaf

    assert leaf.LEAF == 2
    assert sys.executed == ["pkg", "pkg.sub", "pkg.sub.leaf"]
    assert sys.modules["pkg"].sub is sys.modules["pkg.sub"]


def test_nothing_is_deferred_while_inactive(deferring):
    deferring.active = False
    import pkg  # noqa: F401

    assert sys.executed == ["pkg", "pkg.sub", "pkg.sub.leaf"]


def test_load_deferred_runs_the_pending_imports(deferring):
    import pkg  # noqa: F401

    deferring.active = False
    deferring.load_deferred()
    assert sys.executed == ["pkg", "pkg.sub", "pkg.sub.leaf"]


def _write_module(directory, name: str, body: str) -> None:
    (directory / f"{name}.py").write_text(textwrap.dedent(body))


@pytest.fixture
def row_module(tmp_path, monkeypatch):
    """A module of row functions that starts with ``import pandas as pd``, importable by workers."""
    name = f"rows_{tmp_path.name}".replace("-", "_")
    _write_module(
        tmp_path,
        name,
        """
        import sys
        import types

        import pandas as pd

        PARENT_SIDE = (
            "rowpool._default_pool", "rowpool._workers", "rowpool._dispatch", "rowpool._job",
            "rowpool._checks", "rowpool.pool", "rowpool.api",
        )


        def pandas_loaded(row):
            return type(sys.modules["pandas"]) is types.ModuleType


        def string_or_missing(row):
            value = row["s"]
            return f"{type(value).__name__}:{value}"


        def reads_plain_cells(row):
            values = [row[name] for name in ("f", "n", "u", "x", "i", "b", "c", "flag")]
            return type(sys.modules["pandas"]) is types.ModuleType, repr(values)


        def reads_missing_cell(row):
            value = row["m"]
            return type(sys.modules["pandas"]) is types.ModuleType, repr(value)


        def uses_pandas(row):
            return pd.isna(row["a"])


        def parent_side_loaded(row):
            return sorted(m for m in PARENT_SIDE if m in sys.modules)


        def imports_a_submodule(row):
            from pandas.api.types import is_float

            return is_float(row["a"]) and sys.modules["pandas.api"] is pd.api
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__(name)
    yield module
    del sys.modules[name]


@pytest.fixture
def frame():
    return pd.DataFrame({"a": [1.0, float("nan"), 3.0]}, index=[10, 20, 30])


@pytest.mark.parametrize(
    "index",
    [None, [10, 20, 30], [0.5, 1.5, 2.5], pd.Index(["x", "y", None], dtype="str"), ["x", 1, None]],
    ids=["range", "int", "float", "str", "object"],
)
def test_workers_do_not_import_pandas_for_a_function_that_never_uses_it(row_module, frame, index):
    if index is not None:
        frame.index = index
    assert not rowpool.apply(frame, row_module.pandas_loaded, workers=2).any()


def test_workers_do_not_import_the_parent_side_of_rowpool(row_module, frame):
    """A worker imports what runs rows, not what runs pools and jobs (a quicker start)."""
    rowpool.shutdown()  # fresh workers: none that an earlier test's function made import more
    loaded = rowpool.apply(frame, row_module.parent_side_loaded, workers=2, in_process=False)
    assert loaded.map(len).eq(0).all(), loaded.tolist()


@pytest.mark.parametrize("dtype", ["str", "string", object])
def test_string_columns_of_an_object_row_read_like_pandas(row_module, frame, dtype):
    """str, string and object columns in a row of object dtype: str values, NaN or NA where missing,
    as pandas hands them out. An Arrow-backed str column travels as its UTF-8 buffers and an object
    column as Python objects: neither needs pandas in the worker (NA, a pandas object, does)."""
    frame["s"] = pd.array(["x", None, "zz"], dtype=dtype)
    if dtype != "string":
        assert not rowpool.apply(frame, row_module.pandas_loaded, workers=2).any()
    func = row_module.string_or_missing
    pd.testing.assert_series_equal(rowpool.apply(frame, func, workers=2), frame.apply(func, axis=1))


def _extension_frame(rows: int) -> pd.DataFrame:
    """Plain float and extension columns (rows of object dtype): those read by reads_plain_cells
    without missing values; ``m``, ``t`` and ``d`` hold missing values, Timestamps, Timedeltas."""
    ints = np.arange(rows)
    return pd.DataFrame(
        {
            "f": ints * 0.5,
            "n": pd.array(ints, dtype="Int64"),
            "u": pd.array(ints % 200, dtype="UInt8"),
            "x": pd.array(ints / 4, dtype="Float32"),
            "i": pd.array(ints - 5, dtype="int64[pyarrow]"),
            "b": pd.array(ints % 3 == 0, dtype="bool[pyarrow]"),
            "c": pd.Categorical.from_codes(ints % 3, categories=["p", "q", "r"]),
            "flag": pd.array(ints % 2 == 0, dtype="boolean"),
            "m": pd.array([None if i % 4 == 1 else i for i in ints], dtype="Int32"),
            "t": pd.Series(pd.date_range("2020", periods=rows, tz="UTC")).where(lambda s: s.index != 1),
            "d": pd.to_timedelta(ints, unit="s"),
        }
    )


def test_workers_read_plain_values_of_extension_columns_without_pandas(row_module):
    """Nullable, Arrow-backed and categorical columns travel as buffers that a worker decodes in
    C++: rows reading their plain values (int, float, bool, str) get what pandas hands out and never
    import pandas, though other columns of the frame hold NA, Timestamps and Timedeltas."""
    frame = _extension_frame(300)
    func = row_module.reads_plain_cells
    got = rowpool.apply(frame, func, workers=2, chunk_rows=50)
    assert not any(loaded for loaded, _ in got)
    assert [values for _, values in got] == [values for _, values in frame.apply(func, axis=1)]


def test_a_missing_value_of_an_extension_column_loads_pandas_for_its_na(row_module):
    frame = _extension_frame(40)
    got = rowpool.apply(frame, row_module.reads_missing_cell, workers=2, chunk_rows=10)
    assert all(loaded for loaded, _ in got)  # every chunk has an NA in m
    assert [value for _, value in got] == [repr(value) for value in frame["m"].astype(object)]


def test_a_job_with_a_timeout_imports_pandas_before_its_first_row(row_module, frame):
    assert rowpool.apply(frame, row_module.pandas_loaded, workers=2, timeout=30).all()


def test_a_warm_worker_loads_what_an_earlier_job_deferred_once_a_timeout_is_set(row_module, frame):
    with rowpool.Pool(1) as pool:
        assert not rowpool.apply(frame, row_module.pandas_loaded, pool=pool).any()
        assert rowpool.apply(frame, row_module.pandas_loaded, pool=pool, timeout=30).all()


@pytest.mark.parametrize("function", ["uses_pandas", "imports_a_submodule"])
def test_a_deferred_pandas_loads_when_a_row_uses_it(row_module, frame, function):
    func = getattr(row_module, function)
    pd.testing.assert_series_equal(rowpool.apply(frame, func, workers=2), frame.apply(func, axis=1))


def _thread_pool_sizes(row):
    import os

    return tuple(os.environ.get(name) for name in THREAD_POOL_VARIABLES)


def test_native_thread_pools_get_the_workers_share_of_the_cpus(frame, monkeypatch):
    for name in THREAD_POOL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    share = str(max(1, default_workers() // 2))
    sizes = rowpool.apply(frame, _thread_pool_sizes, workers=2)
    assert sizes.tolist() == [(share,) * len(THREAD_POOL_VARIABLES)] * len(frame)


def test_native_thread_pool_sizes_set_by_the_user_are_kept(frame, monkeypatch):
    for name in THREAD_POOL_VARIABLES:
        monkeypatch.setenv(name, "3")
    sizes = rowpool.apply(frame, _thread_pool_sizes, workers=2)
    assert sizes.tolist() == [("3",) * len(THREAD_POOL_VARIABLES)] * len(frame)


def test_wide_arrow_string_frames_read_like_pandas_in_any_chunking():
    """Non-ASCII, empty and missing strings across chunk boundaries (slices of Arrow arrays start at
    an offset), with columns that no row reads."""
    words = ["", "ä", "日本語", None, "x" * 100, "tab\tnew\nline"]
    columns = {f"s{j}": [words[(i + j) % 6] for i in range(50)] for j in range(5)}
    frame = pd.DataFrame({name: pd.array(values, dtype="str") for name, values in columns.items()})
    frame["n"] = range(50)
    func = lambda r: f"{r['s2']!r}|{r['s4']!r}|{r['n']}"  # noqa: E731
    expected = frame.apply(func, axis=1)
    for chunk_rows in (1, 7, None):
        pd.testing.assert_series_equal(rowpool.apply(frame, func, workers=2, chunk_rows=chunk_rows), expected)


def test_cell_columns_reject_bad_buffers():
    codes = np.array([0, 1, 2], dtype=np.int8).view(np.uint8)
    column = _core.ScalarColumn.cells(codes, 3, "i", 1, False, None, [float("nan"), "p", "q"])
    with pytest.raises(ValueError, match="code 2 outside"):
        column.values()  # checked when the value is read
    with pytest.raises(rowpool.errors.EngineError, match="expected 4"):
        _core.ScalarColumn.cells(np.zeros(5, dtype=np.uint8), 2, "i", 2, False, None, None)
    with pytest.raises(rowpool.errors.EngineError, match="no type"):
        _core.ScalarColumn.cells(np.zeros(6, dtype=np.uint8), 2, "f", 3, False, None, None)
    with pytest.raises(TypeError, match="signed codes"):
        _core.ScalarColumn.cells(np.zeros(2, dtype=np.uint8), 2, "u", 1, False, None, ["a", "b"])


def test_utf8_columns_reject_bad_buffers():
    offsets = np.array([0, 2, 9], dtype=np.int64)
    valid = np.ones(2, dtype=np.uint8)
    data = np.frombuffer(b"ab\xff", dtype=np.uint8)
    with pytest.raises(ValueError, match="out of bounds"):
        _core.ScalarColumn.utf8(offsets, valid, data, None).values()
    with pytest.raises(UnicodeDecodeError):
        _core.ScalarColumn.utf8(np.array([0, 2, 3], dtype=np.int64), valid, data, None).values()
    with pytest.raises(ValueError, match="one more offset"):
        _core.ScalarColumn.utf8(offsets[:2], valid, data, None)


INTEGERS = [f"{kind}{bits}" for kind in ("int", "uint") for bits in (8, 16, 32, 64)]
NUMBER_DTYPES = [*INTEGERS, "float32", "float64"]


@pytest.mark.parametrize("dtype", [*NUMBER_DTYPES, "bool"])
def test_numbers_are_boxed_as_tolist_boxes_them(dtype):
    from rowpool._pandas.rows import python_scalars

    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    values = np.array([0, 1, 2, 3], dtype=dtype)
    if info is not None:
        values = np.array([info.min, info.max, 0, 1], dtype=dtype)
    elif dtype != "bool":
        values = np.array([-1.5, np.nan, np.inf, 1e-30], dtype=dtype)
    strided = np.repeat(values, 2)[::2]  # not contiguous: copied first
    for array in (values, strided):
        boxed = python_scalars(array).values()
        assert [type(v) for v in boxed] == [type(v) for v in array.tolist()]
        assert repr(boxed) == repr(array.tolist())


def test_float64_rows_box_numpy_float64_as_pandas_rows_hand_out():
    values = np.array([1.5, -0.0, np.nan, np.inf, 1e308])
    column = _core.ScalarColumn.cells(values.view(np.uint8), 5, "f", 8, False, None, None, np.float64)
    boxed = column.values()
    assert [type(v) for v in boxed] == [np.float64] * 5
    assert repr(boxed) == repr(list(values))
    assert np.signbit(boxed[1]) and np.isnan(boxed[2])

    class Wider(float):
        __slots__ = ("extra",)

    for kind, itemsize, float_type in (
        ("i", 8, np.float64),
        ("f", 4, np.float64),
        ("f", 8, int),
        ("f", 8, Wider),
    ):
        with pytest.raises(TypeError, match="float_type"):
            _core.ScalarColumn.cells(
                np.zeros(8, np.uint8),
                1 if itemsize == 8 else 2,
                kind,
                itemsize,
                False,
                None,
                None,
                float_type,
            )
