"""Row jobs over Arrow inputs cut their chunks straight from the Arrow buffers (files/_arrow_rows):
rows see exactly what pandas' rows of ``read_parquet``'s frame see, in the calling process and in
workers, within a read batch and across batches and windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rowpool
from rowpool.files._arrow_rows import rows_schema

ROWS = 20_000


def described(row):
    """Every value a row holds, with its type, and what its genuine Series says."""
    values = tuple((repr(row[c]), type(row[c]).__name__) for c in row.index)
    return repr((row.name, values, str(row.dtype), row.index.tolist()))


def _table() -> pa.Table:
    rng = np.random.default_rng(3)
    missing = rng.random(ROWS) < 0.1
    ints = rng.integers(-1000, 1000, ROWS)
    strings = [None if m else f"s{i % 97}" for i, m in enumerate(missing)]
    return pa.table(
        {
            "f": pa.array(rng.random(ROWS), mask=missing),
            "f32": pa.array(rng.random(ROWS).astype(np.float32)),
            "i": pa.array(ints),
            "i_missing": pa.array(ints, mask=missing),
            "u8": pa.array((ints % 200).astype(np.uint8)),
            "flag": pa.array(ints > 0),
            "t": pa.array(ints.astype("datetime64[s]").astype("datetime64[us]"), mask=missing),
            "d": pa.array(ints.astype("timedelta64[ms]")),
            "s": pa.array(strings, pa.string()),
            "ls": pa.array(strings, pa.large_string()),
        }
    )


@pytest.fixture(scope="module")
def parquet(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("arrow_rows") / "in.parquet")
    pq.write_table(_table(), path, row_group_size=3_000)  # batches cut at row groups, too
    return path


@pytest.fixture(scope="module")
def expected(parquet):
    return pd.read_parquet(parquet).apply(described, axis=1)


def test_every_column_is_read_as_arrow_where_pandas_reads_strings_as_arrow(parquet):
    frame = pd.read_parquet(parquet)
    table = pq.read_table(parquet)
    schema = rows_schema(frame.iloc[:1], [f.type for f in table.schema])
    if frame["s"].dtype == object:  # pandas 2: str columns are Python objects, read by to_pandas
        assert schema is None
        return
    assert schema is not None
    assert [kind for kind, *_ in schema.layout] == ["raw"] * 8 + ["utf8"] * 2


@pytest.mark.parametrize("in_process", [True, False])
def test_rows_see_what_pandas_rows_see(parquet, expected, in_process):
    result = rowpool.apply(
        parquet, described, max_memory="64MB", in_process=in_process, progress=False, workers=2
    )
    pd.testing.assert_series_equal(result, expected)


def test_a_table_in_memory_too(parquet, expected):
    table = pq.read_table(parquet)
    result = rowpool.apply(table, described, in_process=True, progress=False)
    assert result.to_pylist() == expected.tolist()


def test_an_input_with_a_stored_index_keeps_its_labels(tmp_path):
    frame = pd.DataFrame({"a": [1.5, 2.5, 3.5]}, index=pd.Index([10, 20, 30], name="key"))
    path = str(tmp_path / "indexed.parquet")
    frame.to_parquet(path)
    result = rowpool.apply(path, lambda row: row.name + row["a"], in_process=True, progress=False)
    pd.testing.assert_series_equal(result, frame.apply(lambda row: row.name + row["a"], axis=1))
