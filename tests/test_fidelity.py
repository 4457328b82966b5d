"""Fidelity: ``rowpool.apply`` keeps ``df.attrs``, metadata and the frame's subclass as pandas'
``df.apply(func, axis=1)`` does (``__finalize__``), and its rows give what pandas' row Series give
however many keys they are read with and however long their values are kept."""

from __future__ import annotations

import pandas as pd
import pytest

import rowpool

pytestmark = pytest.mark.timeout(60)


class TaggedSeries(pd.Series):
    @property
    def _constructor(self):
        return TaggedSeries

    @property
    def _constructor_expanddim(self):
        return TaggedFrame


class TaggedFrame(pd.DataFrame):
    _metadata = ["tag"]

    @property
    def _constructor(self):
        return TaggedFrame

    @property
    def _constructor_sliced(self):
        return TaggedSeries


@pytest.mark.parametrize("result", ["scalar", "series"])
def test_apply_keeps_attrs_metadata_and_subclass_like_pandas(pool, result):
    df = TaggedFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
    df.attrs["source"] = "sensor"
    df.tag = "T"
    func = (lambda r: r["a"] + r["b"]) if result == "scalar" else (lambda r: pd.Series({"x": r["a"]}))
    expected = df.apply(func, axis=1)
    for got in (rowpool.apply(df, func, pool=pool), rowpool.apply(df, func, pool=pool, errors="collect")[0]):
        assert type(got) is type(expected)
        assert got.attrs == expected.attrs == {"source": "sensor"}
        assert getattr(got, "tag", None) == getattr(expected, "tag", None)
        if result == "scalar":
            pd.testing.assert_series_equal(got, expected)
        else:
            pd.testing.assert_frame_equal(got, expected)


KEPT_ROWS: list = []  # rows a function kept, in the worker that ran them


def keep_row_and_check_kept(row):
    """Keeps the row with the values it had, then checks every kept row against them: a kept row
    must not change once its chunk's shared memory holds later chunks. ``c`` (``a`` times 2) is
    read only from kept rows, long after their chunk ended."""
    KEPT_ROWS.append((row, row["a"], row["s"], row["n"], row["k"]))
    for kept, a, s, n, k in KEPT_ROWS:
        if (kept["a"], kept["s"], kept["n"], kept["k"]) != (a, s, n, k) or kept["c"] != 2 * a:
            return f"row {kept.name} changed"
    return "ok"


def test_rows_kept_by_the_function_keep_their_values_after_their_chunk():
    size = 300
    df = pd.DataFrame(
        {
            "a": [float(i) for i in range(size)],
            "s": [f"s{i}" for i in range(size)],
            "n": pd.array([None if i % 7 == 0 else i for i in range(size)], dtype="Int64"),
            "k": pd.Categorical([f"k{i % 5}" for i in range(size)]),
            "c": [2.0 * i for i in range(size)],
        }
    )
    result = rowpool.apply(df, keep_row_and_check_kept, in_process=False, workers=2, chunk_rows=7)
    assert (result == "ok").all(), result[result != "ok"].head()


KEPT_VALUES: list = []


def keep_value_and_check_kept(row):
    """Keeps the numpy.float64 each row hands out, and checks every value kept so far."""
    KEPT_VALUES.append((row.name, row["x"]))
    for label, value in KEPT_VALUES:
        if value != 0.5 * label:
            return f"the value kept from row {label} became {value}"
    return row["x"] is row["x"]  # two reads, two objects (as pandas' row Series gives)


@pytest.mark.parametrize("in_process", [True, False], ids=["in process", "workers"])
def test_float_values_handed_out_stay_theirs_however_long_they_are_kept(in_process):
    """A float frame's row hands out numpy.float64 values; the one a row let go of is written anew
    for the next row (no allocation): a value something still holds is never the one rewritten."""
    KEPT_VALUES.clear()
    df = pd.DataFrame({"x": [0.5 * i for i in range(500)], "y": [1.0] * 500})
    options = {"in_process": True} if in_process else {"in_process": False, "workers": 2, "chunk_rows": 50}
    result = rowpool.apply(df, keep_value_and_check_kept, **options)
    pd.testing.assert_series_equal(result, df.apply(keep_value_and_check_kept, axis=1))
    assert not result.any()
    values = rowpool.apply(df, lambda row: row["x"], **options)  # the value itself is the result
    pd.testing.assert_series_equal(values, df["x"].rename(None))
    kinds = rowpool.apply(df, lambda row: type(row["x"] + row["y"]).__name__, **options)
    assert (kinds == "float64").all()


MANY_KEYS = tuple(f"k{i}" for i in range(48))  # more keys than a row batch remembers (32)


def read_many_keys(row):
    total = 0
    for weight, key in enumerate(MANY_KEYS, start=1):  # the same key objects row after row
        total += weight * row[key]
    fresh = "k" + str(int(row["k0"]) % len(MANY_KEYS))  # an equal key, a new object every row
    return total * 100 + row[fresh]


@pytest.mark.parametrize("in_process", [True, False], ids=["in process", "workers"])
def test_rows_read_by_more_keys_than_are_remembered_read_the_right_columns(in_process):
    """Subscript keys are remembered by address in a small table; a key that takes another's place,
    and a new key object equal to a remembered one, still read their own column."""
    rows = 300
    df = pd.DataFrame({key: [1000 * i + r for r in range(rows)] for i, key in enumerate(MANY_KEYS)})
    options = {"in_process": True} if in_process else {"in_process": False, "workers": 2, "chunk_rows": 40}
    result = rowpool.apply(df, read_many_keys, **options)
    pd.testing.assert_series_equal(result, df.apply(read_many_keys, axis=1))


def text_and_length(row):
    text = row["s"]
    return None if not isinstance(text, str) else f"{text}|{len(text)}"


@pytest.mark.parametrize("in_process", [True, False], ids=["in process", "workers"])
def test_repeated_strings_read_as_their_own_values(in_process):
    """A str column's short values are remembered by a hash of their bytes and handed out again
    when equal bytes come back: values of one length that share a slot, empty, long (not
    remembered), non-ASCII and missing ones still read as themselves."""
    distinct = [f"{i:03d}" for i in range(100)] + ["", "é", "naïve", "x" * 65, "y" * 64, "日本語"]
    values = [distinct[(7 * r) % len(distinct)] for r in range(1200)]
    values[5] = values[600] = None
    df = pd.DataFrame({"s": pd.Series(values, dtype="str"), "n": range(1200)})
    options = {"in_process": True} if in_process else {"in_process": False, "workers": 2, "chunk_rows": 150}
    result = rowpool.apply(df, text_and_length, **options)
    pd.testing.assert_series_equal(result, df.apply(text_and_length, axis=1))
    assert result.iloc[3] == f"{distinct[21]}|3"
