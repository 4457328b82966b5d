"""Sources of a file job: whatever is read, seen as Arrow record batches in row order.

A source says its ``name`` (for messages), the ``schema`` of the columns it reads (all of them
until the job projects it with ``project``), its ``rows``
(None when only reading tells), the ``result_kind`` a job over it returns without ``output=``
(``"pandas"``, ``"arrow"`` or ``"polars"``), a ``fingerprint`` that changes when the input does,
and ``batches(start, batch_rows)``: record batches of at most ``batch_rows`` rows from row
``start`` on. Problems with the input raise :class:`rowpool.InputError` naming the file (and the
row group, row or column where known) -- when the source is opened where that can be known
(footers, schemas, names), else while reading.

Sources are created and read in the parent; ``batches`` may run on a read-ahead thread.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator

import pyarrow as pa

from ..errors import InputError

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
IPC_SUFFIXES = (".arrow", ".feather", ".ipc", ".arrows")
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
WHOLE_ROW_GROUP_BATCHES = 4
COLUMNS_PER_READ = 64  # a wide row group is decoded this many columns at a time


def file_identity(path: str) -> list:
    """What a resumed job compares to know the file is the same: path, size, modification time."""
    info = os.stat(path)
    return [os.path.abspath(path), info.st_size, info.st_mtime_ns]


def project(schema: pa.Schema, names: list[str], where: str) -> pa.Schema:
    """``schema`` reduced to ``names`` in that order; InputError naming a missing one."""
    missing = [n for n in names if schema.get_field_index(n) < 0]
    if missing:
        raise InputError(
            f"{where} has no column {missing[0]!r} (its columns: {', '.join(schema.names)})",
            path=where,
            column=missing[0],
        )
    return pa.schema([schema.field(n) for n in names], metadata=schema.metadata)


def skip_rows(batches: Iterator[pa.RecordBatch], start: int) -> Iterator[pa.RecordBatch]:
    """``batches`` without their first ``start`` rows."""
    for batch in batches:
        if start >= batch.num_rows:
            start -= batch.num_rows
            continue
        yield batch.slice(start) if start else batch
        start = 0


def rebatch(batches: Iterator[pa.RecordBatch], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """``batches`` cut to at most ``batch_rows`` rows each (zero-copy slices)."""
    for batch in batches:
        for offset in range(0, batch.num_rows, batch_rows):
            yield batch.slice(offset, batch_rows)


class TableSource:
    """An in-memory ``pyarrow.Table`` (also a ``polars.DataFrame``, through the Arrow C stream)."""

    def __init__(self, table: pa.Table, result_kind: str, name: str = "pyarrow.Table"):
        self.name = name
        self.schema = table.schema
        self.table = table
        self.rows = table.num_rows
        self.result_kind = result_kind

    def fingerprint(self) -> dict:
        return {"table": self.name, "rows": self.rows, "schema": str(self.schema)}

    def batches(self, start: int, batch_rows: int) -> Iterator[pa.RecordBatch]:
        selected = self.table.select(self.schema.names).slice(start)
        return rebatch(selected.to_batches(max_chunksize=batch_rows), batch_rows)


class StreamSource:
    """A ``pyarrow.RecordBatchReader``: a stream, read once."""

    def __init__(self, reader: pa.RecordBatchReader):
        self.name = "pyarrow.RecordBatchReader"
        self.schema = reader.schema
        self.reader = reader
        self.rows = None
        self.result_kind = "arrow"
        self._read = False

    def fingerprint(self) -> dict:
        return {"stream": self.name, "schema": str(self.schema)}

    def batches(self, start: int, batch_rows: int) -> Iterator[pa.RecordBatch]:
        if self._read:
            raise ValueError("a pyarrow.RecordBatchReader can be read only once")
        self._read = True
        names = self.schema.names
        selected = (batch.select(names) for batch in self.reader)
        return rebatch(skip_rows(selected, start), batch_rows)


def _parquet_schema(path: str) -> pa.Schema:
    import pyarrow.parquet as pq

    if not os.path.exists(path):
        raise FileNotFoundError(2, f"no such Parquet file: {path}", path)
    try:
        return pq.read_schema(path)
    except (OSError, pa.ArrowException) as error:
        raise InputError(f"{path} is not a readable Parquet file: {error}", path=path) from error


def _first_difference(schema: pa.Schema, other: pa.Schema) -> str:
    for field in schema:
        index = other.get_field_index(field.name)
        if index < 0:
            return f"column {field.name!r} is missing"
        if other.field(index).type != field.type:
            return f"column {field.name!r} is {other.field(index).type}, not {field.type}"
    extra = [n for n in other.names if schema.get_field_index(n) < 0]
    return f"column {extra[0]!r} is extra" if extra else "the column order differs"


class ParquetSource:
    """One Parquet file or several (a directory or glob, read in sorted order as one table).

    Footers are read when it is opened: a missing, truncated or foreign file, or files whose
    schemas differ, fail then. Row groups before ``start`` are skipped without being read, and only
    the projected columns are read."""

    def __init__(self, paths: list[str], where: str):
        import pyarrow.parquet as pq

        self.paths = paths
        self.name = where
        schema = _parquet_schema(paths[0])
        for path in paths[1:]:
            other = _parquet_schema(path)
            if not other.remove_metadata().equals(schema.remove_metadata()):
                raise InputError(
                    f"{path} does not match {paths[0]}: {_first_difference(schema, other)}", path=path
                )
        self.schema = schema
        self.row_groups = []  # (path, row group, rows) in reading order
        for path in paths:
            try:
                metadata = pq.read_metadata(path)
            except (OSError, pa.ArrowException) as error:
                raise InputError(f"{path} is not a readable Parquet file: {error}", path=path) from error
            self.row_groups += [
                (path, g, metadata.row_group(g).num_rows) for g in range(metadata.num_row_groups)
            ]
        self.rows = sum(rows for _, _, rows in self.row_groups)
        self.result_kind = "pandas"

    def fingerprint(self) -> dict:
        return {"parquet": [file_identity(p) for p in self.paths], "columns": self.schema.names}

    def batches(self, start: int, batch_rows: int) -> Iterator[pa.RecordBatch]:
        import pyarrow.parquet as pq

        first = 0
        opened = None
        for path, group, rows in self.row_groups:
            if start >= first + rows:
                first += rows
                continue
            if opened is None or opened[0] != path:
                opened = (path, pq.ParquetFile(path))
            where = f"{path}: row group {group} (rows {first} to {first + rows - 1})"
            reading = _reading(self._row_group(opened[1], group, rows, batch_rows), where, path)
            yield from skip_rows(reading, max(0, start - first))
            first += rows

    def _row_group(self, file, group: int, rows: int, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The batches of one row group. A row group of up to WHOLE_ROW_GROUP_BATCHES batches is
        decoded in one call (several times faster than batch by batch for wide files); a larger
        one batch by batch, so memory stays bounded whatever the file's row group size -- but for
        a wide file, whose batch reader holds every column's dictionary and compressed chunk at
        once (2.5 times the decoded row group), whole, COLUMNS_PER_READ columns at a time."""
        names = self.schema.names
        if rows <= WHOLE_ROW_GROUP_BATCHES * batch_rows:
            yield from rebatch(iter(file.read_row_group(group, columns=names).to_batches()), batch_rows)
        elif len(names) > COLUMNS_PER_READ:
            yield from rebatch(iter(_columns_of_row_group(file, group, names).to_batches()), batch_rows)
        else:
            yield from file.iter_batches(batch_rows, row_groups=[group], columns=names)


def _columns_of_row_group(file, group: int, names: list[str]) -> pa.Table:
    """Row group ``group`` of ``file``, decoded ``COLUMNS_PER_READ`` columns at a time."""
    pieces = [
        file.read_row_group(group, columns=names[i : i + COLUMNS_PER_READ])
        for i in range(0, len(names), COLUMNS_PER_READ)
    ]
    columns = [column for piece in pieces for column in piece.columns]
    return pa.Table.from_arrays(columns, schema=pa.schema([f for p in pieces for f in p.schema]))


def _reading(batches: Iterator[pa.RecordBatch], where: str, path: str | None) -> Iterator[pa.RecordBatch]:
    """``batches``, with a read error turned into an InputError naming ``where``."""
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (OSError, pa.ArrowException) as error:
            raise InputError(f"{where} cannot be read: {error}", path=path) from error
        yield batch


class IpcSource:
    """An Arrow IPC file (Feather v2), memory-mapped; or an Arrow IPC stream."""

    def __init__(self, path: str):
        if not os.path.exists(path):
            raise FileNotFoundError(2, f"no such Arrow IPC file: {path}", path)
        self.path = self.name = path
        try:
            self.schema, self.rows = self._open_schema()
        except (OSError, pa.ArrowException) as error:
            raise InputError(f"{path} is not a readable Arrow IPC file: {error}", path=path) from error
        self.result_kind = "pandas"

    def _open_schema(self) -> tuple[pa.Schema, int | None]:
        try:
            with pa.ipc.open_file(pa.memory_map(self.path)) as reader:
                rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
                return reader.schema, rows
        except pa.ArrowInvalid:
            with pa.ipc.open_stream(pa.memory_map(self.path)) as reader:
                return reader.schema, None

    def fingerprint(self) -> dict:
        return {"ipc": file_identity(self.path), "columns": self.schema.names}

    def _all_batches(self) -> Iterator[pa.RecordBatch]:
        source = pa.memory_map(self.path)
        if self.rows is None:
            yield from pa.ipc.open_stream(source)
            return
        reader = pa.ipc.open_file(source)
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)

    def batches(self, start: int, batch_rows: int) -> Iterator[pa.RecordBatch]:
        names = self.schema.names
        selected = (b.select(names) for b in _reading(self._all_batches(), self.path, self.path))
        return rebatch(skip_rows(selected, start), batch_rows)


class DatasetSource:
    """A ``pyarrow.dataset.Dataset``, scanned in order with only the projected columns."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.name = f"pyarrow.dataset.{type(dataset).__name__}"
        self.schema = dataset.schema
        self.rows = dataset.count_rows()
        self.result_kind = "pandas"

    def fingerprint(self) -> dict:
        files = getattr(self.dataset, "files", None)
        identity = [file_identity(f) for f in files] if files else [self.name, self.rows]
        return {"dataset": identity, "columns": self.schema.names}

    def batches(self, start: int, batch_rows: int) -> Iterator[pa.RecordBatch]:
        scanned = self.dataset.to_batches(columns=self.schema.names, batch_size=batch_rows)
        return rebatch(skip_rows(_reading(scanned, self.name, None), start), batch_rows)


def expand_paths(pattern: str) -> list[str]:
    """The files a path names: itself, the data files of a directory, or a glob's matches; sorted."""
    if os.path.isdir(pattern):
        names = sorted(n for n in os.listdir(pattern) if not n.startswith((".", "_")))
        found = [os.path.join(pattern, n) for n in names if os.path.isfile(os.path.join(pattern, n))]
        if not found:
            raise FileNotFoundError(2, f"directory {pattern} holds no data files", pattern)
        return found
    if glob.has_magic(pattern):
        found = sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
        if not found:
            raise FileNotFoundError(2, f"no file matches {pattern}", pattern)
        return found
    if not os.path.exists(pattern):
        raise FileNotFoundError(2, f"no such file: {pattern}", pattern)
    return [pattern]
