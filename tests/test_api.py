"""The public API: rowpool.apply / map_batches / Pool / df.rowpool, the row object's everyday
interface compared with the pandas row, argument passing, chunking, empty frames and bad arguments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rowpool


@pytest.fixture(scope="module")
def pool():
    with rowpool.Pool(2) as p:
        yield p


DF = pd.DataFrame(
    {
        "a": np.arange(10),
        "b": np.arange(10) * 0.5,
        "s": list("abcdefghij"),
        "t": pd.date_range("2024-01-01", periods=10, tz="UTC"),
    },
    index=pd.Index([f"r{i}" for i in range(10)], name="key"),
)
NUMERIC = DF[["a", "b"]]


def same(got, expected):
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected, check_dtype=True)
    else:
        pd.testing.assert_series_equal(got, expected, check_dtype=True)
    assert [type(v) for v in np.asarray(got, dtype=object).ravel()] == [
        type(v) for v in np.asarray(expected, dtype=object).ravel()
    ]


# -- the row object --------------------------------------------------------------------------------
def _set_and_return(r):
    r["a"] = 5
    return r


def _set_then_read(r):
    r["a"] = 1
    return (r["a"], r.a, r.get("a"), len(r), list(r), r.name, r.sum(), "a" in r)


def _set_attribute_and_return(r):
    r.a = 7
    r.name = "renamed"
    return r


def _set_new_label(r):
    r["c"] = 1
    return (len(r), "c" in r, r.c, list(r.index), r.to_dict())


def _set_through_loc(r):
    r.loc["a"] = 9
    r.iloc[1] = 8
    return r


def _in_place_operator(r):
    same_object = r
    r += 1
    return (same_object["a"], r["b"])


def _in_place_method(r):
    r.clip(upper=1, inplace=True)
    return r


def _set_incompatible(r):
    r["a"] = "text"  # pandas 3 raises TypeError rather than upcasting the row
    return r


def _set_first_row_only(r):
    if r.name == "r0":
        r["a"] = -1  # the next rows (a recycled Row object) must not see it
    return r["a"]


def _set_without_warning(r):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ChainedAssignmentError for the row's own Series
        r["a"] = 1
        r.loc["b"] = 2
    return r


def _set_string_and_return(r):
    r["s"] = r["s"].upper()
    return r


ROW_API = {
    "getitem": lambda r: r["a"],
    "getitem_type": lambda r: repr(type(r["s"])),
    "getitem_timestamp": lambda r: repr(r["t"]),
    "attribute": lambda r: r.b,
    "attribute_type": lambda r: repr(type(r.a)),
    "get": lambda r: r.get("a", -1),
    "get_default": lambda r: r.get("missing", -1),
    "get_no_default": lambda r: repr(r.get("missing")),
    "name": lambda r: r.name,
    "index": lambda r: repr(r.index),
    "index_list": lambda r: list(r.index),
    "values": lambda r: repr(r.values),
    "to_dict": lambda r: repr(r.to_dict()),
    "items": lambda r: repr(list(r.items())),
    "keys": lambda r: repr(list(r.keys())),
    "len": lambda r: len(r),
    "iteration": lambda r: repr([(type(v).__name__, v) for v in r]),
    "contains": lambda r: ("a" in r, "zz" in r, 0 in r),
    "select_list": lambda r: repr(r[["a", "b"]]),
    "select_list_sum": lambda r: r[["a", "b"]].sum(),
    "sum_numeric": lambda r: r[["a", "b"]].astype(float).sum(),
    "dtype": lambda r: str(r.dtype),
    "repr": lambda r: repr(r),
    "to_numpy": lambda r: repr(np.asarray(r)),
    "isna": lambda r: int(r.isna().sum()),
    "missing_key": lambda r: r["missing"],
    "missing_attribute": lambda r: r.missing,
    "positional_key": lambda r: r[0],
    "loc": lambda r: r.loc["a"],
    "iloc": lambda r: repr(r.iloc[2]),
    "shape": lambda r: r.shape,
    "tolist": lambda r: repr(r.tolist()),
    "arithmetic": lambda r: repr(r[["a", "b"]] * 2),
    "equals_string": lambda r: repr(r == "c"),
    "set_string_and_return": _set_string_and_return,
    "set_new_label_mixed": _set_new_label,
}

NUMERIC_ROW_API = {
    "sum": lambda r: r.sum(),
    "max": lambda r: r.max(),
    "mean": lambda r: r.mean(),
    "values_sum": lambda r: r.values.sum(),
    "builtin_sum": lambda r: sum(r),
    "dict": lambda r: repr(dict(r)),
    "multiply": lambda r: r * 2,
    "add_rows": lambda r: r + r,
    "negate": lambda r: -r,
    "abs": lambda r: abs(r),
    "compare_scalar": lambda r: r > 3,
    "equals_scalar": lambda r: repr(r == 1),
    "setitem_and_return": _set_and_return,
    "copy_setitem": lambda r: r.copy().drop("a"),
    "subtract_from_scalar": lambda r: 10 - r,
    "divide_by_zero": lambda r: r / 0,
    "floordiv_mod": lambda r: repr((r // 2, r % 3)),
    "power": lambda r: r**2,
    "scalar_power": lambda r: 2**r,
    "divmod": lambda r: repr(divmod(r, 2)),
    "matmul": lambda r: r @ r,
    "positive": lambda r: +r,
    "not_equal_self": lambda r: r != r,
    "compare_rows": lambda r: (r >= r * 2).tolist(),
    "compare_series": lambda r: r < pd.Series({"a": 3, "b": 1}),
    "logical_ops": lambda r: repr(((r > 1) & (r < 4), (r > 1) | (r < 4), (r > 1) ^ True, ~(r > 2))),
    "bool_raises": lambda r: bool(r),
    "in_list_raises": lambda r: r in [1, 2],
    "hash_raises": lambda r: hash(r),
    "round": lambda r: round(r / 3, 1),
    "numpy_ufunc": lambda r: np.sqrt(r),
    "numpy_ufunc_type": lambda r: type(np.maximum(r, 2)).__name__,
    "ndarray_plus_row": lambda r: repr(np.arange(2) + r),
    "set_then_read": _set_then_read,
    "set_attribute_and_return": _set_attribute_and_return,
    "set_new_label": _set_new_label,
    "set_through_loc": _set_through_loc,
    "in_place_operator": _in_place_operator,
    "in_place_method": _in_place_method,
    "set_incompatible": _set_incompatible,
    "set_first_row_only": _set_first_row_only,
    "set_without_warning": _set_without_warning,
    "delete_label": lambda r: r.drop("a").to_dict(),
}


def _check_like_pandas(pool, df, func, **options):
    try:
        expected = df.apply(func, axis=1)
    except Exception as exc:  # noqa: BLE001
        with pytest.raises(type(exc)):
            pool.apply(df, func, **options)
        return
    same(pool.apply(df, func, **options), expected)


@pytest.mark.parametrize("name", list(ROW_API))
def test_row_api_like_pandas(pool, name):
    _check_like_pandas(pool, DF, ROW_API[name], chunk_rows=3)


@pytest.mark.parametrize("name", list(NUMERIC_ROW_API))
def test_numeric_row_api_like_pandas(pool, name):
    _check_like_pandas(pool, NUMERIC, NUMERIC_ROW_API[name], chunk_rows=3)


def test_row_mutation_stays_in_the_row(pool):
    before = NUMERIC.copy()
    pool.apply(NUMERIC, _set_and_return, chunk_rows=3)
    pool.apply(NUMERIC, _in_place_method, chunk_rows=3)
    pd.testing.assert_frame_equal(NUMERIC, before)
    # the chunks in shared memory are unchanged too: a fresh job reads the original values
    same(pool.apply(NUMERIC, lambda r: r["a"], chunk_rows=3), NUMERIC.apply(lambda r: r["a"], axis=1))


def test_row_is_unhashable_and_has_no_truth_value(pool):
    def probe(r):
        import collections.abc

        outcomes = []
        for attempt in (bool, hash):
            try:
                attempt(r)
            except (TypeError, ValueError) as exc:
                outcomes.append((type(exc).__name__, "ambiguous" in str(exc)))
        return (isinstance(r, collections.abc.Hashable), *outcomes)

    expected = NUMERIC.apply(probe, axis=1)
    got = pool.apply(NUMERIC, probe)
    assert got.tolist() == expected.tolist()


@pytest.mark.parametrize("name", list(ROW_API) + list(NUMERIC_ROW_API))
def test_row_type_series_like_pandas(pool, name):
    func = ROW_API.get(name) or NUMERIC_ROW_API[name]
    df = DF if name in ROW_API else NUMERIC
    _check_like_pandas(pool, df, func, chunk_rows=4, row_type="series")


def test_row_type_series_is_a_genuine_series(pool):
    got = pool.apply(DF, lambda r: isinstance(r, pd.Series), row_type="series")
    same(got, pd.Series(True, index=DF.index))


def test_row_is_not_a_series_but_converts(pool):
    got = pool.apply(DF, lambda r: (type(r).__name__, type(r.to_series()).__name__))
    assert got.tolist() == [("Row", "Series")] * len(DF)


def test_function_returning_the_row(pool):
    _check_like_pandas(pool, DF, lambda r: r, chunk_rows=1)
    _check_like_pandas(pool, DF, lambda r: r, chunk_rows=1, row_type="series")


def test_series_results_give_a_frame(pool):
    func = lambda r: pd.Series({"double": r["a"] * 2, "label": r["s"].upper()})  # noqa: E731
    got = pool.apply(DF, func, chunk_rows=2)
    same(got, DF.apply(func, axis=1))
    assert list(got.columns) == ["double", "label"]


# -- arguments, chunking, accessor, pool reuse ------------------------------------------------------
def test_args_and_kwargs(pool):
    def func(row, k, *, offset=0):
        return row["a"] * k + offset

    got = pool.apply(DF, func, args=(3,), kwargs={"offset": 1})
    same(got, DF.apply(func, axis=1, args=(3,), offset=1))
    same(pool.apply(DF, func, args=[2]), DF.apply(func, axis=1, args=(2,)))


@pytest.mark.parametrize("chunk_rows", [1, 3, 7, 10, 1000])
def test_many_chunks_combine_in_order(pool, chunk_rows):
    df = pd.DataFrame({"a": np.arange(101)}, index=np.arange(101)[::-1] * 2)
    func = lambda r: f"{r.name}:{r['a']}"  # noqa: E731
    same(pool.apply(df, func, chunk_rows=chunk_rows), df.apply(func, axis=1))


def test_accessor(pool):
    func = lambda r: r["a"] + r["b"]  # noqa: E731
    same(DF.rowpool.apply(func, pool=pool), DF.apply(func, axis=1))
    same(DF.rowpool.apply(func, workers=1), DF.apply(func, axis=1))
    got = DF.rowpool.map_batches(lambda c: c["a"] * 2, pool=pool, chunk_rows=4)
    same(got, DF["a"] * 2)


def test_temporary_pool_via_workers():
    func = lambda r: r["a"] * 2.5  # noqa: E731
    same(rowpool.apply(DF, func, workers=2), DF.apply(func, axis=1))


def test_pool_reuse_across_jobs():
    with rowpool.Pool(2) as p:
        for k in range(4):
            func = lambda r, k=k: r["a"] * k  # noqa: E731
            same(p.apply(DF, func, chunk_rows=2), DF.apply(func, axis=1))
            same(p.map_batches(DF, lambda c, k=k: c["b"] + k), DF["b"] + k)
        other = pd.DataFrame({"x": ["p", "q"]})
        same(p.apply(other, lambda r: r.x * 2), other.apply(lambda r: r.x * 2, axis=1))
    with pytest.raises(ValueError):
        p.apply(DF, lambda r: 1)


# -- map_batches -----------------------------------------------------------------------------------
def test_map_batches_series_and_frames(pool):
    same(pool.map_batches(DF, lambda c: c["a"] + c["b"], chunk_rows=3), DF["a"] + DF["b"])
    same(pool.map_batches(DF, lambda c: c[["a", "s"]], chunk_rows=4), DF[["a", "s"]])
    same(pool.map_batches(DF, lambda c: c, chunk_rows=1), DF)


def test_map_batches_chunk_keeps_dtypes(pool):
    df = pd.DataFrame(
        {
            "o": pd.Series(["x", "y", "z", "w"], dtype=object),
            "s": pd.array(["x", None, "z", "w"], dtype="str"),
            "n": pd.array([1, None, 3, 4], dtype="Int64"),
            "c": pd.Categorical(["u", "v", "u", "v"]),
            "t": pd.date_range("2020", periods=4, tz="Europe/Paris"),
        }
    )
    got = pool.map_batches(df, lambda c: c, chunk_rows=2)
    same(got, df)
    dtypes = pool.map_batches(df, lambda c: c.dtypes.astype(str).to_frame().T, chunk_rows=2)
    assert dtypes.iloc[0].tolist() == df.dtypes.astype(str).tolist()


def test_map_batches_arrays(pool):
    got = pool.map_batches(DF, lambda c: c["a"].to_numpy() * 2, chunk_rows=3)
    same(got, pd.Series(DF["a"].to_numpy() * 2, index=DF.index))


@pytest.mark.parametrize("n", [1, 3, 4])
def test_map_batches_chunk_rows_fixes_chunk_length(pool, n):
    got = pool.map_batches(DF, lambda c: len(c), chunk_rows=n)
    lengths = [n] * (len(DF) // n) + ([len(DF) % n] if len(DF) % n else [])
    same(got, pd.Series(lengths))


def test_map_batches_scalars_one_per_chunk(pool):
    got = pool.map_batches(DF, lambda c: c["a"].sum(), chunk_rows=5)
    assert got.tolist() == [DF["a"].iloc[:5].sum(), DF["a"].iloc[5:].sum()]


def test_map_batches_args_kwargs(pool):
    got = pool.map_batches(DF, lambda c, k, m=1: c["a"] * k + m, args=(2,), kwargs={"m": 5})
    same(got, DF["a"] * 2 + 5)


# -- empty frames ------------------------------------------------------------------------------------
EMPTY_CASES = {
    "no_rows": pd.DataFrame({"a": pd.Series([], dtype="int64"), "s": pd.Series([], dtype=object)}),
    "no_columns": pd.DataFrame(index=range(3)),
    "nothing": pd.DataFrame(),
}


@pytest.mark.parametrize(
    "func",
    [lambda r: 1.5, lambda r: r, lambda r: pd.Series({"x": 1}), lambda r: len(r), lambda r: "s"],
)
@pytest.mark.parametrize("case", list(EMPTY_CASES))
def test_empty_frame_like_pandas(pool, case, func):
    df = EMPTY_CASES[case]
    expected = df.apply(func, axis=1)
    got = pool.apply(df, func)
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected)
    else:
        pd.testing.assert_series_equal(got, expected)


def test_empty_frame_function_that_fails_on_empty_series(pool):
    df = EMPTY_CASES["no_rows"]
    func = lambda r: r["a"] * 2  # noqa: E731 - pandas' probe hits a KeyError and falls back
    pd.testing.assert_series_equal(pool.apply(df, func), df.apply(func, axis=1))


def test_map_batches_empty_frame(pool):
    got = pool.map_batches(EMPTY_CASES["no_rows"], lambda c: c["a"] * 2)
    assert len(got) == 0


# -- bad arguments -------------------------------------------------------------------------------------
BAD = [
    (dict(workers=0), ValueError, "workers"),
    (dict(workers=-1), ValueError, "workers"),
    (dict(workers="2"), TypeError, "workers"),
    (dict(workers=2.0), TypeError, "workers"),
    (dict(workers=True), TypeError, "workers"),
    (dict(errors="bogus"), ValueError, "errors"),
    (dict(chunk_rows=0), ValueError, "chunk_rows"),
    (dict(chunk_rows=-3), ValueError, "chunk_rows"),
    (dict(chunk_rows="3"), TypeError, "chunk_rows"),
    (dict(chunk_rows=2.5), TypeError, "chunk_rows"),
    (dict(row_type="x"), ValueError, "row_type"),
    (dict(args=5), TypeError, "args"),
    (dict(kwargs=[1]), TypeError, "kwargs"),
    (dict(progress="yes"), TypeError, "progress"),
]


@pytest.mark.parametrize("options,error,word", BAD, ids=[repr(b[0]) for b in BAD])
def test_bad_arguments_apply(options, error, word):
    with pytest.raises(error, match=word):
        rowpool.apply(DF, lambda r: 1, **options)


@pytest.mark.parametrize(
    "options,error,word",
    [b for b in BAD if "row_type" not in b[0]],
    ids=[repr(b[0]) for b in BAD if "row_type" not in b[0]],
)
def test_bad_arguments_map_batches(options, error, word):
    with pytest.raises(error, match=word):
        rowpool.map_batches(DF, lambda c: c, **options)


@pytest.mark.parametrize("df", [DF["a"], DF.to_dict(), [[1, 2]], np.zeros((2, 2)), None])
def test_df_must_be_a_dataframe(df):
    with pytest.raises(TypeError, match="df"):
        rowpool.apply(df, lambda r: 1, workers=1)
    with pytest.raises(TypeError, match="df"):
        rowpool.map_batches(df, lambda c: 1, workers=1)


def test_a_series_is_pointed_to_map():
    with pytest.raises(TypeError, match=r"not Series \(rowpool.map\(series, func\) maps"):
        rowpool.apply(DF["a"], lambda r: 1, workers=1)


@pytest.mark.parametrize("func", [None, 3, "len", [len]])
def test_func_must_be_callable(func):
    if not isinstance(func, (str, list)):  # apply takes pandas' string and list funcs too
        with pytest.raises(TypeError, match="func"):
            rowpool.apply(DF, func, workers=1)
    with pytest.raises(TypeError, match="func"):
        rowpool.map_batches(DF, func, workers=1)


def test_bad_arguments_on_a_pool(pool):
    with pytest.raises(ValueError, match="errors"):
        pool.apply(DF, lambda r: 1, errors="bogus")
    with pytest.raises(ValueError, match="chunk_rows"):
        pool.map_batches(DF, lambda c: 1, chunk_rows=0)


@pytest.mark.parametrize("workers,error", [(0, ValueError), ("2", TypeError), (None, None)])
def test_pool_workers_argument(workers, error):
    if error is None:
        with rowpool.Pool(workers) as p:
            assert p.workers >= 1
        return
    with pytest.raises(error, match="workers"):
        rowpool.Pool(workers)
