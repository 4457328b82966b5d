"""Files and in-memory Arrow/polars sources through rowpool.apply / map_batches: every format in and
out, rows in input order over many windows, keep columns, projections, result types."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

import rowpool
from rowpool.files._job import budget
from rowpool.files._open import open_source
from rowpool.files._writers import _RowGroupWriter

ROWS = 60_000
PAD = "p" * 300  # a wide column: with max_memory="64MB" a window is ~6 MB, so ~20,000 rows


def row_function(row):
    return row["a"] * 2 + row["id"]


@pytest.fixture(scope="module")
def pool():
    with rowpool.Pool(2) as p:
        yield p


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "id": np.arange(ROWS, dtype=np.int64),
            "a": rng.uniform(0, 1, ROWS),
            "pad": [PAD + str(i % 10) for i in range(ROWS)],
        }
    )


@pytest.fixture(scope="module")
def expected(frame):
    return frame["a"] * 2 + frame["id"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, frame):
    """The frame in every input format, keyed by name."""
    root = tmp_path_factory.mktemp("inputs")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    paths = {"parquet": str(root / "in.parquet")}
    pq.write_table(table, paths["parquet"], row_group_size=7_000)
    parts = root / "parts"
    parts.mkdir()
    for i, start in enumerate(range(0, ROWS, 25_000)):
        pq.write_table(table.slice(start, 25_000), str(parts / f"part-{i:02d}.parquet"))
    paths["directory"] = str(parts)
    paths["glob"] = str(parts / "part-*.parquet")
    paths["csv"] = str(root / "in.csv")
    pacsv.write_csv(table, paths["csv"])
    paths["csv.gz"] = str(root / "in.csv.gz")
    with open(paths["csv"], "rb") as plain, gzip.open(paths["csv.gz"], "wb") as packed:
        packed.write(plain.read())
    paths["feather"] = str(root / "in.feather")
    feather.write_feather(table, paths["feather"], chunksize=9_000)
    paths["arrows"] = str(root / "in.arrows")
    with pa.OSFile(paths["arrows"], "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=9_000)
    return paths


@pytest.mark.parametrize("kind", ["parquet", "directory", "glob", "csv", "csv.gz", "feather", "arrows"])
def test_every_input_format_gives_the_in_memory_result_in_order(pool, inputs, expected, tmp_path, kind):
    output = str(tmp_path / "out.parquet")
    summary = rowpool.apply(
        inputs[kind], row_function, output=output, keep=["id"], max_memory="64MB", pool=pool
    )
    assert (summary.rows, summary.failures, summary.path) == (ROWS, 0, output)
    written = pq.read_table(output)
    assert written.column_names == ["id", "result"]
    assert written.column("id").to_pylist() == list(range(ROWS))
    np.testing.assert_array_equal(written.column("result").to_numpy(), expected.to_numpy())
    assert sorted(os.listdir(tmp_path)) == ["out.parquet"]  # no journal, no temporary left


@pytest.mark.parametrize("kind", ["parquet", "csv", "arrows"])
def test_the_jobs_span_several_windows(inputs, kind):
    _, window_bytes = budget(64 * 10**6)
    windows = list(open_source(inputs[kind], None, ["id"], window_bytes).windows(0))
    assert len(windows) >= 3
    assert [w.begin for w in windows[1:]] == [w.end for w in windows[:-1]]
    assert windows[-1].end == ROWS


def test_extension_columns_over_many_windows_read_like_pandas(pool, frame, tmp_path):
    """tz-aware, categorical (categories that differ window by window) and nullable columns: a
    file's windows keep one layout, so these travel pickled there, not as cells."""
    rows = len(frame)
    extended = frame.assign(
        t=pd.date_range("2020", periods=rows, freq="s", tz="Europe/Paris"),
        c=pd.Categorical(np.where(np.arange(rows) < rows // 2, "x", "y")),
        m=pd.array(np.where(frame["id"] % 7 == 0, None, frame["id"]), dtype="Int64"),
    )
    path = str(tmp_path / "extension.parquet")
    pq.write_table(pa.Table.from_pandas(extended, preserve_index=False), path, row_group_size=7_000)
    func = lambda r: f"{r['t']}|{r['c']}|{r['m']}"  # noqa: E731
    _, window_bytes = budget(64 * 10**6)
    assert len(list(open_source(path, None, [], window_bytes).windows(0))) >= 3
    result = rowpool.apply(path, func, max_memory="64MB", pool=pool)
    assert result.tolist() == pd.read_parquet(path).apply(func, axis=1).tolist()


def test_a_dataset_is_read_in_order(pool, inputs, expected):
    result = rowpool.apply(ds.dataset(inputs["directory"]), row_function, max_memory="64MB", pool=pool)
    pd.testing.assert_series_equal(result, expected, check_names=False)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".csv.gz", ".arrow", ".feather"])
def test_every_output_format_holds_the_rows_in_order(pool, inputs, expected, tmp_path, suffix):
    output = str(tmp_path / f"out{suffix}")
    rowpool.apply(inputs["parquet"], row_function, output=output, keep="id", max_memory="64MB", pool=pool)
    if suffix.startswith(".csv"):
        written = pacsv.read_csv(output)
    elif suffix == ".parquet":
        written = pq.read_table(output)
    else:
        written = feather.read_table(output)
    assert written.column("id").to_pylist() == list(range(ROWS))
    np.testing.assert_allclose(written.column("result").to_numpy(), expected.to_numpy(), rtol=1e-15)


def test_the_output_is_the_same_bytes_every_time(pool, inputs, tmp_path):
    first, second = str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")
    rowpool.apply(inputs["parquet"], row_function, output=first, keep="id", max_memory="64MB", pool=pool)
    rowpool.apply(inputs["csv"], row_function, output=second, keep="id", max_memory="128MB", pool=pool)
    assert open(first, "rb").read() == open(second, "rb").read()


def test_arrow_in_gives_arrow_out(pool, frame, expected):
    table = pa.Table.from_pandas(frame, preserve_index=False)
    result = rowpool.apply(table, row_function, max_memory="64MB", pool=pool)
    assert isinstance(result, pa.ChunkedArray)
    assert result.to_pylist() == expected.tolist()
    batches = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=5_000))
    result = rowpool.map_batches(batches, lambda c: c[["id"]].assign(b=c["a"] * 2), pool=pool)
    assert isinstance(result, pa.Table)
    assert result.column_names == ["id", "b"]
    assert result.column("b").to_pylist() == (frame["a"] * 2).tolist()


def test_polars_in_gives_polars_out(pool, frame, expected):
    source = pl.from_pandas(frame)
    result = rowpool.apply(source, row_function, max_memory="64MB", pool=pool)
    assert isinstance(result, pl.Series)
    assert result.to_list() == expected.tolist()
    # As in pandas, Series results make a frame (dicts would make a column of structs).
    table = rowpool.apply(
        source.head(2_000), lambda row: pd.Series({"twice": row["id"] * 2, "s": row["pad"][-1]}), pool=pool
    )
    assert isinstance(table, pl.DataFrame)
    assert table.columns == ["twice", "s"]
    assert table["twice"].to_list() == (frame["id"] * 2).tolist()[:2_000]


def test_a_file_without_output_gives_pandas_labelled_like_read_parquet(pool, tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=pd.Index(["x", "y", "z"], name="key"))
    path = str(tmp_path / "labelled.parquet")
    frame.to_parquet(path)
    result = rowpool.apply(path, lambda row: f"{row.name}={row['a']}", pool=pool)
    expected = pd.read_parquet(path).apply(lambda row: f"{row.name}={row['a']}", axis=1)
    pd.testing.assert_series_equal(result, expected)


def test_columns_projects_what_is_read(pool, inputs):
    opened = open_source(inputs["parquet"], ["a"], ["id"], 1 << 20)
    batch = next(opened.windows.source.batches(0, 100))
    assert batch.schema.names == ["a", "id"]  # the Parquet reader reads no other column
    result = rowpool.apply(inputs["parquet"], lambda row: len(row), columns=["a"], pool=pool)
    assert set(result) == {1}


def test_results_typed_over_all_windows_as_pandas_types_the_whole_column(pool, inputs, tmp_path):
    output = str(tmp_path / "mixed.parquet")

    def late_floats(row):
        return row["id"] if row["id"] < 50_000 else row["id"] + 0.5

    rowpool.apply(inputs["parquet"], late_floats, output=output, max_memory="64MB", pool=pool)
    written = pq.read_table(output).column("result")
    assert written.type == pa.float64()
    assert written[49_999].as_py() == 49_999.0 and written[59_999].as_py() == 59_999.5


def test_map_batches_writes_frames_beside_keep_columns(pool, inputs, frame, tmp_path):
    output = str(tmp_path / "batches.arrow")

    def summarize(chunk):
        return pd.DataFrame({"twice": chunk["a"] * 2, "tag": chunk["pad"].str[-1]}, index=chunk.index)

    summary = rowpool.map_batches(
        inputs["parquet"], summarize, output=output, keep=["id"], max_memory="64MB", pool=pool
    )
    written = feather.read_table(output)
    assert summary.rows == ROWS
    assert written.column_names == ["id", "twice", "tag"]
    assert written.column("tag").to_pylist() == [s[-1] for s in frame["pad"]]


def test_failures_become_nulls_and_are_counted(pool, inputs, tmp_path):
    output = str(tmp_path / "coerced.parquet")

    def picky(row):
        if row["id"] % 10_000 == 3:
            raise ValueError(f"row {row['id']}")
        return row["id"] * 1.0

    summary = rowpool.apply(inputs["parquet"], picky, output=output, errors="collect", pool=pool)
    assert summary.failures == 6
    assert summary.failed.index.tolist() == [3, 10_003, 20_003, 30_003, 40_003, 50_003]
    assert (summary.failed["exception"] == "ValueError").all()
    written = pq.read_table(output).column("result")
    assert written.null_count == 6 and written[3].as_py() is None and written[4].as_py() == 4.0


def test_parquet_row_groups_have_a_fixed_number_of_rows(tmp_path):
    path = str(tmp_path / "groups.parquet")
    schema = pa.schema([("x", pa.int64())])
    writer = _RowGroupWriter(pq.ParquetWriter(path, schema), rows=1_000)
    start = 0
    for size in (10, 2_500, 1, 999, 3_000, 7):
        writer.write(pa.table({"x": np.arange(start, start + size)}))
        start += size
    writer.close()
    metadata = pq.ParquetFile(path).metadata
    sizes = [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]
    assert sizes == [1_000] * 6 + [517]
    assert pq.read_table(path).column("x").to_pylist() == list(range(start))


def test_a_pandas_frame_can_go_to_a_file(pool, frame, expected, tmp_path):
    output = str(tmp_path / "from_pandas.csv")
    rowpool.apply(frame, row_function, output=output, keep=["id"], max_memory="64MB", pool=pool)
    written = pd.read_csv(output)
    assert written["id"].tolist() == frame["id"].tolist()
    np.testing.assert_allclose(written["result"], expected, rtol=1e-15)


@pytest.mark.parametrize("batch_rows", [100, 7_000])  # row groups read batch by batch, or whole
@pytest.mark.parametrize("start", [0, 6_999, 7_000, 59_999])
def test_parquet_batches_resume_at_any_row(inputs, batch_rows, start):
    source = open_source(inputs["parquet"], ["id"], [], 1 << 20).windows.source
    batches = list(source.batches(start, batch_rows))
    assert max(b.num_rows for b in batches) <= batch_rows
    ids = pa.Table.from_batches(batches).column("id").to_pylist()
    assert ids == list(range(start, ROWS))
