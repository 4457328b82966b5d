"""CSV files read as ``pandas.read_csv`` reads them with its defaults: every case compares a row
function's view of each row -- the column names, each value and its type -- with
``pandas.read_csv(path).apply(f, axis=1)``."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

import rowpool
from rowpool.files._csv import pandas_names


def fields(row) -> str:
    return repr([(name, value, type(value).__name__) for name, value in row.items()])


CASES = {
    "repeated header": "a,a,b,a\n1,2,3,4\n",
    "repeated header taken by a later column": "a,a,a.1\n1,2,3\n",
    "empty header": ",b,\n1,2,3\n",
    "missing values in strings": 's,t\nx,1\n,2\nNA,3\n"",4\nNone,5\n<NA>,6\nnull,7\nn/a,8\n',
    "missing values in numbers": "i,f\n1,1.5\nNA,nan\n3,-NaN\n",
    "bools with a missing value": "b,v\nTrue,1\nFalse,2\n,3\n",
    "bools spelled as pandas spells them": "b\nTRUE\nfalse\n",
    "1 and 0 are numbers": "b\n1\n0\n",
    "True beside 1 is a string": "b\nTrue\n1\n",
    "dates and times stay strings": (
        "d,t,ts\n2020-01-01,12:30:00,2020-01-01 12:30:00\n2020-01-02,13:00:00,2020-01-02T00:00:00Z\n"
    ),
    "a column without values is float64": "a,b\n,1\nNA,2\n",
    "quoted fields": 'id,text\n1,"a, b"\n2,"multi\nline"\n',
}


@pytest.mark.parametrize("name", list(CASES))
def test_rows_are_read_csv_rows(tmp_path, name):
    path = tmp_path / "in.csv"
    path.write_text(CASES[name])
    expected = pd.read_csv(path).apply(fields, axis=1)
    pd.testing.assert_series_equal(rowpool.apply(str(path), fields, workers=1, progress=False), expected)


@pytest.mark.parametrize("suffix", [".tsv", ".tsv.gz"])
def test_tab_separated_files_are_split_at_tabs(tmp_path, suffix):
    path = tmp_path / f"in{suffix}"
    text = "a\tb, c\n1\t2,5\n3\tx\n"
    if suffix.endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    expected = pd.read_csv(path, sep="\t").apply(fields, axis=1)
    pd.testing.assert_series_equal(rowpool.apply(str(path), fields, workers=1, progress=False), expected)


def test_gzip_and_a_column_empty_in_the_first_block_then_numbers(tmp_path):
    """pyarrow infers types from the first block (4 MB): a column empty there is typed by the rest,
    as pandas types it (float64: numbers with missing values)."""
    rows = 300_000
    frame = pd.DataFrame({"a": np.arange(rows), "late": [""] * (rows - 2) + ["5", ""]})
    path = tmp_path / "late.csv.gz"
    with gzip.open(path, "wt") as f:
        frame.to_csv(f, index=False)
    got = rowpool.apply(str(path), lambda row: row["late"], workers=1, progress=False)
    expected = pd.read_csv(path).apply(lambda row: row["late"], axis=1)
    pd.testing.assert_series_equal(got, expected)
    assert got.iloc[-2] == 5.0 and got.isna().sum() == rows - 1


@pytest.mark.parametrize(
    "header",
    [["a", "a"], ["a", "a", "a.1"], ["a.1", "a", "a", "a"], ["a", "a.1", "a", "a.1"], ["", "a", "", "a"],
     ["Unnamed: 1", ""], ["x", "x.1", "x", "x.2", "x"]],
)  # fmt: skip
def test_header_names_are_pandas_names(tmp_path, header):
    path = tmp_path / "header.csv"
    path.write_text(",".join(header) + "\n" + ",".join("1" for _ in header) + "\n")
    assert pandas_names(header) == list(pd.read_csv(path).columns)
