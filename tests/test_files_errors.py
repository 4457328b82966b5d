"""Bad input and bad output for file jobs: each a clear error naming the file (and the row or
column where known), raised in the parent, and no file left that looks like a complete output."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rowpool
from rowpool import InputError


def double(row):
    return row["a"] * 2


@pytest.fixture(scope="module")
def pool():
    with rowpool.Pool(1) as p:
        yield p


@pytest.fixture
def parquet(tmp_path):
    path = str(tmp_path / "in.parquet")
    table = pa.table({"a": np.arange(20_000, dtype=np.float64), "id": np.arange(20_000)})
    pq.write_table(table, path, row_group_size=5_000, compression="snappy")
    return path


def _only(directory, *names):
    assert sorted(n for n in os.listdir(directory) if not n.endswith(".rowpool-resume")) == sorted(names)


def test_a_missing_file_is_named(tmp_path, pool):
    for name in ("gone.parquet", "gone.csv", "gone.arrow", "nothing-*.parquet"):
        with pytest.raises(FileNotFoundError, match=name.replace("*", r"\*")):
            rowpool.apply(str(tmp_path / name), double, pool=pool)


def test_a_truncated_parquet_file_is_named_before_any_work(tmp_path, parquet, pool):
    data = open(parquet, "rb").read()
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(data[: len(data) // 2])
    output = tmp_path / "out.parquet"
    with pytest.raises(InputError, match="truncated.parquet is not a readable Parquet file") as raised:
        rowpool.apply(str(truncated), double, output=str(output), pool=pool)
    assert raised.value.path == str(truncated)
    assert isinstance(raised.value, ValueError)
    _only(tmp_path, "in.parquet", "truncated.parquet")


def test_corrupt_parquet_data_names_the_file_and_row_group(tmp_path, parquet, pool):
    metadata = pq.read_metadata(parquet)
    column = metadata.row_group(2).column(0)  # the third row group's data pages, garbled
    start = column.data_page_offset
    data = bytearray(open(parquet, "rb").read())
    data[start + 20 : start + 200] = b"\xff" * 180
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(bytes(data))
    output = tmp_path / "out.parquet"
    with pytest.raises(InputError, match=r"corrupt.parquet: row group 2 \(rows 10000 to 14999\)"):
        rowpool.apply(str(corrupt), double, output=str(output), max_memory="64MB", pool=pool)
    _only(tmp_path, "in.parquet", "corrupt.parquet")  # neither the output nor its temporary


@pytest.mark.parametrize(
    ("content", "pattern", "row", "column"),
    [
        (b"a,b\n1,x\n2,\xff\xfe\n", r"invalid UTF-8 in column 'b', row 1", 1, "b"),
        (b"a,b\n1,x\n2,y,z\n3,w\n", r"line 3.*Expected 2 columns, got 3", 3, None),
        (b"a,b\n", r"has a header but no rows", 0, None),
    ],
    ids=["utf8", "ragged", "header-only"],
)
def test_bad_csv_is_named_with_its_row(tmp_path, pool, content, pattern, row, column):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=pattern) as raised:
        rowpool.apply(str(path), double, output=str(tmp_path / "out.csv"), pool=pool)
    assert str(path) in str(raised.value)
    assert (raised.value.row, raised.value.column) == (row, column)
    _only(tmp_path, "bad.csv")


def test_csv_columns_are_typed_by_every_row_like_read_csv(tmp_path, pool):
    rows = 300_000  # far past pyarrow's first block, from which it infers the types
    path = tmp_path / "late.csv"
    frame = pd.DataFrame({"a": np.arange(rows)})
    frame.to_csv(path, index=False)
    with open(path, "a") as f:
        f.write("0.5\n")
    result = rowpool.apply(str(path), lambda row: row["a"], pool=pool)
    assert result.dtype == np.float64
    assert result.iloc[-1] == 0.5 and len(result) == rows + 1


def test_quoted_csv_fields_keep_commas_and_newlines(tmp_path, pool):
    path = tmp_path / "quoted.csv"
    path.write_text('a,text\n1,"one, two"\n2,"three\nfour"\n3,plain\n')
    result = rowpool.apply(str(path), lambda row: row["text"].upper(), pool=pool)
    assert result.tolist() == ["ONE, TWO", "THREE\nFOUR", "PLAIN"]


@pytest.mark.parametrize("option", ["columns", "keep"])
def test_an_unknown_column_is_named(tmp_path, parquet, pool, option):
    with pytest.raises(InputError, match=r"in.parquet has no column 'nope' \(its columns: a, id\)") as raised:
        rowpool.apply(parquet, double, output=str(tmp_path / "o.parquet"), pool=pool, **{option: ["nope"]})
    assert raised.value.column == "nope"


def test_files_of_a_glob_must_share_a_schema(tmp_path, pool):
    pq.write_table(pa.table({"a": [1.0], "id": [1]}), str(tmp_path / "p1.parquet"))
    pq.write_table(pa.table({"a": ["x"], "id": [2]}), str(tmp_path / "p2.parquet"))
    with pytest.raises(InputError, match=r"p2.parquet does not match .*p1.parquet: column 'a' is string"):
        rowpool.apply(str(tmp_path / "p*.parquet"), double, pool=pool)


@contextlib.contextmanager
def mounted_tmpfs(path, options):
    """A tmpfs at ``path`` with mount ``options``; None where this process may not mount."""
    os.makedirs(path)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    try:
        yield path if mounted.returncode == 0 else None
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", "-l", str(path)], check=True)


def test_an_output_directory_that_is_not_writable_fails_before_any_work(tmp_path, parquet, pool):
    # A read-only tmpfs where we may mount (root ignores permission bits), else a mode-0500 directory.
    with mounted_tmpfs(tmp_path / "readonly", "ro,size=1m") as directory:
        if directory is None:
            directory = tmp_path / "readonly"
            os.chmod(directory, 0o500)
        with pytest.raises(OSError, match=r"output directory .*readonly is not writable"):
            rowpool.apply(parquet, double, output=str(directory / "o.parquet"), pool=pool)


FULL_DISK_JOB = textwrap.dedent(
    """
    import resource, signal, sys
    import rowpool
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (128 * 1024, 128 * 1024))
    try:
        rowpool.apply(sys.argv[1], lambda row: row["a"] * 2, output=sys.argv[2], keep=["id"], workers=1)
    except OSError as error:
        print(repr(str(error)))
        sys.exit(3)
    """
)


def test_a_full_disk_mid_write_fails_naming_the_file(tmp_path, parquet, pool):
    """Fills a 64 KiB tmpfs where we may mount one; elsewhere a 128 KiB file-size rlimit (EFBIG)
    stands in for the full device, in a child process."""
    with mounted_tmpfs(tmp_path / "small", "size=64k") as directory:
        if directory is not None:
            output = directory / "out.parquet"
            with pytest.raises(OSError, match=r"writing .* failed: No space left on device") as raised:
                rowpool.apply(parquet, double, output=str(output), keep=["id"], pool=pool)
            assert raised.value.errno == 28
            assert not os.path.exists(output) and not os.path.exists(directory / ".out.parquet.rowpool-tmp")
            return
    output = tmp_path / "out.csv"
    argv = [sys.executable, "-c", FULL_DISK_JOB, parquet, str(output)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert "writing" in done.stdout and "failed" in done.stdout
    assert not os.path.exists(output)


@pytest.mark.parametrize(
    ("options", "error", "pattern"),
    [
        ({"max_memory": "lots"}, ValueError, "max_memory must look like"),
        ({"max_memory": 1000}, ValueError, "max_memory must be at least 64MB"),
        ({"max_memory": 1.5}, TypeError, "max_memory must be an int"),
        ({"columns": "a"}, TypeError, "columns must be a list"),
        ({"keep": ["id"]}, ValueError, "keep= names columns copied to an output file"),
        ({"resume": True}, ValueError, "pass output= too"),
        ({"output": "o.xlsx"}, ValueError, "output must end with one of"),
        ({"output": 3}, TypeError, "output must be a path"),
        ({"errors": "ignore"}, ValueError, "errors must be one of"),
    ],
)
def test_bad_arguments_are_named(parquet, options, error, pattern):
    with pytest.raises(error, match=pattern):
        rowpool.apply(parquet, double, **options)


def test_resume_and_overwrite_exclude_each_other(tmp_path, parquet):
    with pytest.raises(ValueError, match="contradict"):
        rowpool.apply(parquet, double, output=str(tmp_path / "o.csv"), resume=True, overwrite=True)
