"""rowpool.apply(df, f) must equal df.apply(f, axis=1) of the installed pandas: values, index, dtype,
column order, and the very scalar types handed to ``f``, over a matrix of column dtypes and result
kinds (explicit cases plus property-based ones with hypothesis)."""

from __future__ import annotations

import datetime
import decimal
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rowpool

N = 6


@pytest.fixture(scope="module")
def pool():
    with rowpool.Pool(2) as p:
        yield p


# -- helpers ---------------------------------------------------------------------------------------
def _element_types(obj) -> list:
    values = obj.to_numpy(dtype=object).ravel() if hasattr(obj, "to_numpy") else obj
    return [type(v) for v in values]


def assert_identical(got, expected) -> None:
    """Equal like pandas.testing (dtype checked), and in object data the same element types (a
    numpy scalar is not a Python scalar for the user) and None stays None (not NaN)."""
    assert type(got) is type(expected), (type(got), type(expected))
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected, check_dtype=True)
        assert list(got.dtypes) == list(expected.dtypes)
    else:
        pd.testing.assert_series_equal(got, expected, check_dtype=True)
    assert _element_types(got) == _element_types(expected)
    got_none = [v is None for v in np.asarray(got, dtype=object).ravel()]
    expected_none = [v is None for v in np.asarray(expected, dtype=object).ravel()]
    assert got_none == expected_none


def check(pool, df, func, **options) -> None:
    """rowpool gives what pandas gives, or raises what pandas raises."""
    try:
        expected = df.apply(func, axis=1, args=tuple(options.get("args", ())), **options.get("kwargs", {}))
    except Exception as exc:  # noqa: BLE001 - the same exception type must come out of rowpool
        with pytest.raises(type(exc)):
            pool.apply(df, func, **options)
        return
    assert_identical(pool.apply(df, func, **options), expected)


# -- the dtype matrix ------------------------------------------------------------------------------
def _frames() -> dict:
    n = N
    words = pd.Series(list("pqrstu"), dtype=object)  # rows of object dtype beside any column
    ints = np.arange(n)
    with_gap = [1, None, 3, 4, 5, 6]
    return {
        "float": pd.DataFrame({"a": ints * 1.5, "b": ints * 2.0}),
        "float_nan": pd.DataFrame({"a": [1.0, np.nan, None, 3, 4, np.inf], "b": ints * 1.0}),
        "int": pd.DataFrame({"a": ints, "b": ints * 2}),
        "int_float": pd.DataFrame({"a": ints, "b": ints * 2.5}),
        "small_ints": pd.DataFrame({"a": ints.astype(np.int8), "b": ints.astype(np.uint16)}),
        "float32": pd.DataFrame({"a": ints.astype(np.float32), "b": ints.astype(np.int32)}),
        "uint64": pd.DataFrame({"a": ints.astype(np.uint64), "b": ints}),
        "bool": pd.DataFrame({"a": ints % 2 == 0, "b": ints > 3}),
        "bool_int": pd.DataFrame({"a": ints % 2 == 0, "b": ints}),
        "Int64": pd.DataFrame({"a": pd.array(with_gap, dtype="Int64"), "b": pd.array(ints, dtype="Int64")}),
        "Int64_float": pd.DataFrame({"a": pd.array(with_gap, dtype="Int64"), "b": ints * 1.0}),
        "boolean": pd.DataFrame(
            {"a": pd.array([True, None, False, True, False, True], dtype="boolean"), "b": ints > 2}
        ),
        "Float64": pd.DataFrame(
            {"a": pd.array(with_gap, dtype="Float64"), "b": pd.array(ints, dtype="Float64")}
        ),
        "object_str": pd.DataFrame(
            {
                "a": pd.Series(["x", "y", None, "z", "w", "v"], dtype=object),
                "b": pd.Series(list("pqrstu"), dtype=object),
            }
        ),
        "str": pd.DataFrame(
            {"a": pd.array(["x", "y", None, "z", "w", "v"], dtype="str"), "b": list("pqrstu")}
        ),
        "string": pd.DataFrame(
            {
                "a": pd.array(["x", "y", None, "z", "w", "v"], dtype="string"),
                "b": pd.array(list("pqrstu"), dtype="string"),
            }
        ),
        "str_int": pd.DataFrame({"a": pd.array(["x", "y", None, "z", "w", "v"], dtype="str"), "b": ints}),
        "mixed_object": pd.DataFrame(
            {"a": pd.Series([1, "s", 2.5, None, [1], {"k": 1}], dtype=object), "b": ints}
        ),
        "none_object": pd.DataFrame({"a": pd.Series([None] * n, dtype=object), "b": ints * 1.0}),
        "categorical": pd.DataFrame(
            {"a": pd.Categorical(["x", "y", None, "x", "y", "x"]), "b": pd.Categorical(list("xyxxyx"))}
        ),
        "categorical_int": pd.DataFrame({"a": pd.Categorical([1, 2, 1, 1, 2, 2]), "b": ints}),
        "datetime": pd.DataFrame(
            {"a": pd.date_range("2020", periods=n), "b": pd.date_range("2021", periods=n, unit="s")}
        ),
        "datetime_nat": pd.DataFrame(
            {"a": pd.Series(pd.date_range("2020", periods=n)).where(lambda s: s.index != 2), "b": ints}
        ),
        "datetime_tz": pd.DataFrame(
            {"a": pd.date_range("2020", periods=n, tz="UTC"), "b": pd.date_range("2021", periods=n, tz="UTC")}
        ),
        "datetime_two_tz": pd.DataFrame(
            {
                "a": pd.date_range("2020", periods=n, tz="UTC"),
                "b": pd.date_range("2021", periods=n, tz="Asia/Tokyo"),
            }
        ),
        "datetime_tz_naive": pd.DataFrame(
            {"a": pd.date_range("2020", periods=n, tz="Europe/Paris"), "b": pd.date_range("2021", periods=n)}
        ),
        "timedelta": pd.DataFrame(
            {"a": pd.to_timedelta(ints, unit="s"), "b": pd.to_timedelta(ints, unit="D")}
        ),
        "timedelta_float": pd.DataFrame({"a": pd.to_timedelta(ints, unit="s"), "b": ints * 1.0}),
        "period": pd.DataFrame({"a": pd.period_range("2020", periods=n, freq="D"), "b": ints}),
        "sparse": pd.DataFrame({"a": pd.arrays.SparseArray([0, 1, 0, 2, 0, 3]), "b": ints}),
        # Extension columns in rows of object dtype (a str column beside them): they travel as
        # buffers (rowpool._pandas.cells) and must read exactly as pandas' interleaving hands them out.
        **{f"{name}_object_row": pd.DataFrame({"a": a, "b": words}) for name, a in _cells().items()},
        "every_cells_kind": pd.DataFrame({name: values for name, values in _cells().items()}),
    }


def _cells() -> dict:
    """One column of each extension dtype that travels as buffers, with missing values where the
    dtype has them (and a genuine NaN in the nullable and Arrow floats)."""
    # 0 / 0 in a nullable column: a NaN value in pandas 2, a missing one in pandas 3.
    floats = pd.array([1.5, None, -0.0, 0.0, 1e300, 6.25], dtype="Float64")
    floats = floats / pd.array([1, 1, 1, 0, 1, 1], dtype="Float64")
    arrow_floats = pa.array([1.5, None, -0.0, float("nan"), 1e300, 6.25], type=pa.float64())
    return {
        "Int8": pd.array([1, None, -128, 127, 0, 6], dtype="Int8"),
        "Int64": pd.array([1, None, 2**62, -(2**63), 0, 6], dtype="Int64"),
        "Int64_no_missing": pd.array([1, 2, 3, 4, 5, 6], dtype="Int64"),
        "UInt16": pd.array([1, None, 65535, 0, 5, 6], dtype="UInt16"),
        "UInt64": pd.array([2**64 - 1, None, 0, 2**63, 5, 6], dtype="UInt64"),
        "Float32": pd.array([0.1, None, -2.5, 3e38, 5.0, 6.0], dtype="Float32"),
        "Float64": floats,
        "boolean": pd.array([True, None, False, True, False, None], dtype="boolean"),
        "arrow_int64": pd.array([1, None, 2**62, -(2**63), 0, 6], dtype="int64[pyarrow]"),
        "arrow_int8_no_nulls": pd.array([1, 2, -128, 127, 0, 6], dtype="int8[pyarrow]"),
        "arrow_uint64": pd.array([2**64 - 1, None, 0, 2**63, 5, 6], dtype="uint64[pyarrow]"),
        "arrow_float32": pd.array([0.1, None, -2.5, 3e38, 5.0, 6.0], dtype="float[pyarrow]"),
        "arrow_float64": pd.arrays.ArrowExtensionArray(arrow_floats),
        "arrow_bool": pd.array([True, None, False, True, False, None], dtype="bool[pyarrow]"),
        "categorical": pd.Categorical(["x", "y", None, "x", "y", "x"]),
        "categorical_int": pd.Categorical([1, 2, None, 1, 2, 2]),
        "categorical_float": pd.Categorical([1.5, 2.5, None, 1.5, 2.5, 2.5]),
        "categorical_bool": pd.Categorical([True, False, None, True, True, True]),
        "categorical_datetime": pd.Categorical(pd.to_datetime(["2020", "2021", None] * 2)),
        "categorical_ordered": pd.Categorical(list("abcabc"), categories=list("cba"), ordered=True),
        "categorical_unused": pd.Categorical(list("aaaaaa"), categories=list("abc")),
        "datetime_tz": pd.array(pd.date_range("2020-03-29", periods=6, freq="h", tz="Europe/Paris")),
        "datetime_tz_nat": pd.Series(pd.date_range("2020", periods=6, tz="Asia/Tokyo", unit="s"))
        .where(lambda s: s.index != 2)
        .array,
        "timedelta_nat": pd.Series(pd.to_timedelta(np.arange(6), unit="s")).where(lambda s: s < s[3]).array,
    }


FRAMES = _frames()

ROW_PROBES = {
    "getitem_type": lambda r: repr(type(r["a"])),
    "getitem_repr": lambda r: repr(r["a"]),
    "getitem": lambda r: r["b"],
    "attribute": lambda r: repr(r.a),
    "get": lambda r: repr(r.get("a", "default")),
    "get_missing": lambda r: repr(r.get("zz", "default")),
    "name": lambda r: repr(r.name),
    "index": lambda r: repr(r.index),
    "dtype": lambda r: str(r.dtype),
    "values": lambda r: repr(r.values),
    "to_dict": lambda r: repr(r.to_dict()),
    "items": lambda r: repr(list(r.items())),
    "iteration": lambda r: repr([(type(v), v) for v in r]),
    "len": lambda r: len(r),
    "contains": lambda r: ("a" in r, "zz" in r, 0 in r),
    "select_list": lambda r: repr(r[["a", "b"]]),
    "isna": lambda r: repr(r.isna().tolist()),
    "count": lambda r: r.count(),
    "row_itself": lambda r: r,
}


def check_all(pool, df, probes: dict, **options) -> None:
    """``check`` for every probe; fails listing every probe that differs from pandas."""
    differences = []
    for name, probe in probes.items():
        try:
            check(pool, df, probe, **options)
        except Exception as exc:  # noqa: BLE001 - collected, then reported together
            differences.append(f"{name}: {type(exc).__name__}: {str(exc)[:300]}")
    assert not differences, "\n".join(differences)


@pytest.mark.parametrize("frame", list(FRAMES))
def test_row_matrix(pool, frame):
    check_all(pool, FRAMES[frame], ROW_PROBES, chunk_rows=2)


@pytest.mark.parametrize("frame", list(FRAMES))
def test_row_type_series_matrix(pool, frame):
    df = FRAMES[frame]
    check(pool, df, lambda r: (type(r).__name__, str(r.dtype), repr(r)), row_type="series", chunk_rows=4)
    check(pool, df, lambda r: r, row_type="series", chunk_rows=4)


@pytest.mark.parametrize("frame", ["float", "int", "bool", "Int64", "Float64", "timedelta"])
def test_row_sum_matrix(pool, frame):
    check(pool, FRAMES[frame], lambda r: r.sum(), chunk_rows=3)


# -- index and column shapes -----------------------------------------------------------------------
BASE = pd.DataFrame({"a": np.arange(N), "b": np.arange(N) * 1.5, "s": list("uvwxyz")})

SHAPES = {
    "multiindex_rows": BASE.set_index(pd.MultiIndex.from_product([["p", "q"], [1, 2, 3]], names=["k", "n"])),
    "duplicate_index": BASE.set_index(pd.Index([1, 1, 2, 2, 2, 3])),
    "string_index": BASE.set_index(pd.Index(list("ABCDEF"))),
    "datetime_index": BASE.set_index(pd.date_range("2022", periods=N, freq="h")),
    "float_index_with_nan": BASE.set_index(pd.Index([0.5, np.nan, 2.5, 3.0, -1.0, 7.25])),
    "uint_index": BASE.set_index(pd.Index(np.arange(N, dtype=np.uint8) * 3)),
    "bool_index": BASE.set_index(pd.Index([True, False] * (N // 2))),
    "mixed_object_index": BASE.set_index(pd.Index([1, "b", 2.5, None, (1, 2), "f"], dtype=object)),
    "string_index_with_na": BASE.set_index(pd.Index(["A", None, "C", "D", "E", "F"], dtype="str")),
    "int_index_extension_rows": BASE[["a"]].astype("Int64").set_index(pd.Index([5, 4, 3, 2, 1, 0])),
    "one_row": BASE.iloc[:1],
    "one_row_labelled": BASE.iloc[3:4],
}


@pytest.mark.parametrize(
    "probe",
    [
        lambda r: repr(r.name),
        lambda r: r["a"] * 2 + r["b"],
        lambda r: r,
        lambda r: repr(r[["a", "s"]]),
        lambda r: r.s,
        lambda r: pd.Series({"x": r["a"], "y": r.name}),
    ],
)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_index_shapes(pool, shape, probe):
    check(pool, SHAPES[shape], probe, chunk_rows=2)


DUPLICATE_COLUMNS = pd.DataFrame([[1, 2, 3], [4, 5, 6], [7, 8, 9]], columns=["a", "a", "b"])


@pytest.mark.parametrize(
    "probe",
    [
        lambda r: repr(r["a"]),
        lambda r: r["b"],
        lambda r: repr(r.get("a")),
        lambda r: ("a" in r, "b" in r, "c" in r),
        lambda r: r.sum(),
        lambda r: repr(list(r)),
        lambda r: repr(list(r.items())),
        lambda r: r,
        lambda r: len(r),
        lambda r: repr(r.a),
    ],
)
def test_duplicate_column_labels(pool, probe):
    check(pool, DUPLICATE_COLUMNS, probe, chunk_rows=1)


NON_STRING_COLUMNS = pd.DataFrame([[1, 2.5, "x"], [4, 5.5, "y"]], columns=[0, 2.5, ("t", 1)])


@pytest.mark.parametrize(
    "probe",
    [
        lambda r: repr(r[0]),
        lambda r: r[2.5],
        lambda r: r[("t", 1)],
        lambda r: repr(r.get(0)),
        lambda r: (0 in r, "0" in r, 2.5 in r),
        lambda r: repr(r.to_dict()),
        lambda r: r,
    ],
)
def test_non_string_column_labels(pool, probe):
    check(pool, NON_STRING_COLUMNS, probe, chunk_rows=1)


def test_integer_column_labels_positional_key_error(pool):
    # pandas 3 has no positional fallback for r[0] on string labels: a KeyError, in both.
    check(pool, BASE, lambda r: r[0])


def test_multiindex_columns(pool):
    df = pd.DataFrame(
        [[1, 2, 3], [4, 5, 6]], columns=pd.MultiIndex.from_tuples([("x", "a"), ("x", "b"), ("y", "a")])
    )
    for probe in (lambda r: repr(r["x"]), lambda r: r[("y", "a")], lambda r: r, lambda r: repr(r.x)):
        check(pool, df, probe, chunk_rows=1)


def test_wide_frame_reading_one_field(pool):
    df = pd.DataFrame(np.arange(5 * 1200).reshape(5, 1200), columns=[f"c{i}" for i in range(1200)])
    check(pool, df, lambda r: r["c1100"] * 2, chunk_rows=2)
    check(pool, df, lambda r: r.c7)
    check(pool, df, lambda r: r.sum(), chunk_rows=3)
    check(pool, df.astype({"c3": "Int64"}), lambda r: r["c1199"])


# -- result kinds ----------------------------------------------------------------------------------
RESULT_FRAME = pd.DataFrame({"i": np.arange(8), "f": np.arange(8) * 0.5, "s": list("abcdefgh")})
INT_FRAME = pd.DataFrame({"i": np.arange(8), "j": np.arange(8) * 3})

RESULTS = {
    "np_float": lambda r: r["f"],
    "py_float": lambda r: float(r["f"]),
    "py_int": lambda r: int(r["i"]),
    "np_bool": lambda r: r["i"] > 2,
    "py_bool": lambda r: bool(r["i"] > 2),
    "str": lambda r: r["s"] * 2,
    "str_with_none": lambda r: None if r["i"] % 3 == 0 else r["s"],
    "none_then_str": lambda r: None if r["i"] < 4 else r["s"],
    "all_none": lambda r: None,
    "all_nan": lambda r: np.nan,
    "nan_and_none": lambda r: None if r["i"] % 2 else np.nan,
    "int_with_none": lambda r: None if r["i"] == 5 else int(r["i"]),
    "float_with_none": lambda r: None if r["i"] == 5 else float(r["f"]),
    "int_and_float": lambda r: int(r["i"]) if r["i"] < 4 else 0.5,
    "bool_with_none": lambda r: None if r["i"] == 4 else True,
    "int_then_str": lambda r: int(r["i"]) if r["i"] < 4 else "x",
    "float_none_then_str": lambda r: (None if r["i"] == 0 else 1.5) if r["i"] < 4 else "x",
    "int_none_then_str": lambda r: (None if r["i"] == 0 else 1) if r["i"] < 4 else "x",
    "np_float_then_str": lambda r: r["f"] if r["i"] < 4 else "x",
    "np_bool_then_str": lambda r: (r["i"] > 0) if r["i"] < 4 else "x",
    "big_int": lambda r: 2**63 + int(r["i"]),
    "huge_int": lambda r: 2**70 if r["i"] > 5 else 1,
    "np_float32": lambda r: np.float32(r["f"]),
    "np_int32": lambda r: np.int32(r["i"]),
    "decimal": lambda r: decimal.Decimal(int(r["i"])),
    "date": lambda r: datetime.date(2020, 1, 1 + int(r["i"])),
    "timestamp": lambda r: pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(r["i"])),
    "timestamp_tz": lambda r: pd.Timestamp("2020-01-01", tz="UTC") + pd.Timedelta(hours=int(r["i"])),
    "timestamp_with_none": lambda r: None if r["i"] == 1 else pd.Timestamp("2020-01-01"),
    "timestamp_with_nat": lambda r: pd.NaT if r["i"] == 1 else pd.Timestamp("2020-01-01"),
    "timedelta": lambda r: pd.Timedelta(seconds=int(r["i"])),
    "pd_na": lambda r: pd.NA if r["i"] == 1 else 1,
    "tuple": lambda r: (r["i"], r["s"]),
    "list": lambda r: [r["i"], r["f"]],
    "dict": lambda r: {"x": r["i"], "y": r["s"]},
    "ndarray": lambda r: np.array([r["i"], 1]),
    "series": lambda r: pd.Series({"x": r["i"], "y": r["s"], "z": r["f"]}),
    "series_varying_keys": lambda r: pd.Series({"x": r["i"]}) if r["i"] < 4 else pd.Series({"y": 1.5}),
    "series_with_name": lambda r: pd.Series([r["i"], r["f"]], index=["p", "q"], name="ignored"),
    "row_itself": lambda r: r,
    "row_or_none": lambda r: r if r["i"] else None,
    "bytes": lambda r: r["s"].encode(),
    "complex": lambda r: complex(r["i"], 1),
}


@pytest.mark.parametrize("result", list(RESULTS))
def test_result_kinds(pool, result):
    differences = []
    for chunk_rows in (1, 3, None):
        try:
            check(pool, RESULT_FRAME, RESULTS[result], chunk_rows=chunk_rows)
        except Exception as exc:  # noqa: BLE001 - collected, then reported together
            differences.append(f"chunk_rows={chunk_rows}: {type(exc).__name__}: {str(exc)[:300]}")
    assert not differences, "\n".join(differences)


INT_RESULTS = {
    # np.int64 results (an int64 row) mixed with None / NaN / floats in one chunk.
    "np_int": lambda r: r["i"],
    "np_int_with_none": lambda r: None if r["i"] == 2 else r["i"],
    "np_int_with_nan": lambda r: np.nan if r["i"] == 2 else r["i"],
    "np_int_and_float": lambda r: 0.5 if r["i"] == 2 else r["i"],
    "np_int_then_str": lambda r: r["i"] if r["i"] < 4 else "x",
    "np_int_and_np_int32": lambda r: np.int32(7) if r["i"] == 2 else r["i"],
}


@pytest.mark.parametrize("chunk_rows", [1, 3, None])
@pytest.mark.parametrize("result", list(INT_RESULTS))
def test_numpy_int_results(pool, result, chunk_rows):
    check(pool, INT_FRAME, INT_RESULTS[result], chunk_rows=chunk_rows)


def test_categorical_int_with_missing_value(pool):
    # the row hands out np.int64 and float NaN: a chunk of both must give float64 like pandas.
    df = pd.DataFrame({"a": pd.Categorical([1, 2, None, 1, 2]), "b": pd.Categorical([1, 2, 1, 1, 2])})
    check(pool, df, lambda r: r["a"], chunk_rows=2)


# -- property-based --------------------------------------------------------------------------------
COLUMN_KINDS = [
    "float",
    "int",
    "bool",
    "Int64",
    "boolean",
    "Float64",
    "object_str",
    "str",
    "string",
    "category",
    "datetime",
    "datetime_tz",
    "timedelta",
    "mixed_object",
    "Int8",
    "UInt64",
    "Float32",
    "arrow_int",
    "arrow_uint8",
    "arrow_float",
    "arrow_bool",
    "category_int",
    "category_ordered",
]


@st.composite
def columns(draw, kind: str, n: int):
    nulls = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    ints = draw(st.lists(st.integers(-(2**40), 2**40), min_size=n, max_size=n))
    floats = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=n, max_size=n))
    words = draw(st.lists(st.text(max_size=4), min_size=n, max_size=n))
    masked_ints = [None if m else v for m, v in zip(nulls, ints)]
    masked_words = [None if m else v for m, v in zip(nulls, words)]
    if kind == "float":
        return np.array(floats, dtype=np.float64)
    if kind == "int":
        return np.array(ints, dtype=np.int64)
    if kind == "bool":
        return np.array([v % 2 == 0 for v in ints], dtype=bool)
    if kind == "Int64":
        return pd.array(masked_ints, dtype="Int64")
    if kind == "boolean":
        return pd.array([None if m else v % 2 == 0 for m, v in zip(nulls, ints)], dtype="boolean")
    if kind == "Float64":
        return pd.array([None if m else v for m, v in zip(nulls, floats)], dtype="Float64")
    if kind == "object_str":
        return pd.Series(masked_words, dtype=object).to_numpy()
    if kind in ("str", "string"):
        return pd.array(masked_words, dtype=kind)
    if kind == "category":
        return pd.Categorical([None if m else w[:1] for m, w in zip(nulls, words)])
    if kind in ("datetime", "datetime_tz"):
        # Seconds at microsecond resolution, as pandas 3's to_datetime(unit="s") makes them, built
        # directly because pandas 2 would convert to nanoseconds. Kept within +-2**34 s (years 1426
        # to 2514): for a tz-aware row near year 0, pandas' own apply hands out a wrong Timestamp
        # (year 1972), a pandas bug rowpool does not copy.
        seconds = np.array(ints, dtype=np.int64) >> 6
        instants = (seconds * 1_000_000).view("datetime64[us]")
        instants[np.array(nulls, dtype=bool)] = np.datetime64("NaT")
        values = pd.array(instants)
        return values.tz_localize("UTC") if kind == "datetime_tz" else values
    if kind == "Int8":
        return pd.array([None if m else v % 256 - 128 for m, v in zip(nulls, ints)], dtype="Int8")
    if kind == "UInt64":
        return pd.array([None if m else v % 2**64 for m, v in zip(nulls, ints)], dtype="UInt64")
    if kind == "Float32":
        return pd.array([None if m else v for m, v in zip(nulls, floats)], dtype="Float32")
    if kind == "arrow_int":
        return pd.array(masked_ints, dtype="int64[pyarrow]")
    if kind == "arrow_uint8":
        return pd.array([None if m else v % 256 for m, v in zip(nulls, ints)], dtype="uint8[pyarrow]")
    if kind == "arrow_float":
        return pd.array([None if m else v for m, v in zip(nulls, floats)], dtype="double[pyarrow]")
    if kind == "arrow_bool":
        return pd.array([None if m else v % 3 == 0 for m, v in zip(nulls, ints)], dtype="bool[pyarrow]")
    if kind == "category_int":
        return pd.Categorical([None if m else v % 5 for m, v in zip(nulls, ints)])
    if kind == "category_ordered":
        return pd.Categorical([None if m else w[:1] for m, w in zip(nulls, words)], ordered=True)
    if kind == "timedelta":
        return pd.to_timedelta([None if m else v for m, v in zip(nulls, ints)], unit="ms")
    assert kind == "mixed_object"
    choices = [None, np.nan, 1, 2.5, "x", True, (1, 2)]
    return pd.Series([choices[abs(v) % len(choices)] for v in ints], dtype=object).to_numpy()


@st.composite
def frames(draw):
    n = draw(st.integers(1, 9))
    kinds = draw(st.lists(st.sampled_from(COLUMN_KINDS), min_size=1, max_size=4))
    names = [f"c{j}" for j in range(len(kinds))]
    df = pd.DataFrame({name: draw(columns(kind, n)) for name, kind in zip(names, kinds)})
    index_kind = draw(st.sampled_from(["range", "duplicates", "strings", "multi"]))
    if index_kind == "duplicates":
        df.index = pd.Index([i // 2 for i in range(n)])
    elif index_kind == "strings":
        df.index = pd.Index([f"r{i}" for i in range(n)])
    elif index_kind == "multi":
        df.index = pd.MultiIndex.from_arrays([[i % 2 for i in range(n)], [f"k{i}" for i in range(n)]])
    return df


PROPERTY_PROBES = [
    lambda r: repr(type(r["c0"])),
    lambda r: repr(r["c0"]),
    lambda r: r["c0"],
    lambda r: repr(r.get("c0")),
    lambda r: repr(list(r)),
    lambda r: repr(r.to_dict()),
    lambda r: repr(list(r.items())),
    lambda r: repr(r.values),
    lambda r: str(r.dtype),
    lambda r: repr(r.name),
    lambda r: r,
    lambda r: r.isna().sum(),
    lambda r: pd.Series({"first": r["c0"], "n": len(r)}),
]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(df=frames(), probe=st.sampled_from(PROPERTY_PROBES), chunk_rows=st.sampled_from([1, 2, 3, None]))
def test_property_rows_like_pandas(pool, df, probe, chunk_rows):
    check(pool, df, probe, chunk_rows=chunk_rows)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(
        st.one_of(
            st.none(),
            st.floats(allow_nan=True, width=64),
            st.integers(-(2**70), 2**70),
            st.booleans(),
            st.text(max_size=3),
        ),
        min_size=1,
        max_size=12,
    ),
    chunk_rows=st.sampled_from([1, 2, 5, None]),
)
def test_property_scalar_results_like_pandas(pool, values, chunk_rows):
    df = pd.DataFrame({"k": np.arange(len(values))})
    check(pool, df, lambda r: values[r["k"]], chunk_rows=chunk_rows)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(
        st.one_of(st.none(), st.floats(allow_nan=True, width=64), st.integers(-100, 100), st.booleans()),
        min_size=1,
        max_size=10,
    ),
    chunk_rows=st.sampled_from([1, 2, 4, None]),
)
def test_property_numpy_scalar_results_like_pandas(pool, values, chunk_rows):
    # the same mixtures, but as the numpy scalars a row hands out (np.int64, np.float64, np.bool_).
    boxed = [v if v is None else np.asarray(v)[()] for v in values]
    df = pd.DataFrame({"k": np.arange(len(values))})
    check(pool, df, lambda r: boxed[r["k"]], chunk_rows=chunk_rows)


@pytest.mark.parametrize("row_type", ["row", "series"])
def test_rows_take_pandas_interleaved_dtype_when_the_first_row_differs(row_type):
    """An all-NaN categorical of ints beside an int column: the first row is float64, but pandas
    fills the rows from ``frame.values``, int64 (NaN cast to int64's minimum): rowpool does too."""
    df = pd.DataFrame({"c": pd.Categorical([None, None, None], categories=[1, 2]), "i": [1, 2, 3]})
    for probe in (lambda r: r["c"], lambda r: type(r["i"]).__name__):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # pandas' own NaN-to-int cast
            try:
                expected = df.apply(probe, axis=1)
            except ValueError:  # pandas 2.2 cannot build the first row: neither can rowpool
                with pytest.raises(ValueError):
                    rowpool.apply(df, probe, workers=2, chunk_rows=1, in_process=False, row_type=row_type)
                continue
            got = rowpool.apply(df, probe, workers=2, chunk_rows=1, in_process=False, row_type=row_type)
        pd.testing.assert_series_equal(got, expected)
