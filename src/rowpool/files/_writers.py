"""Writing results: one window's part file, and the output file made of all parts.

Each committed window's results (``keep`` columns, then the result columns) are an Arrow IPC
stream, its types as pandas gave them for that window. The output has the parts' schemas unified
the way pandas would type the whole column (a window of ints and one of floats give float64; an
all-missing window takes the others' type): each part is cast to that schema and its rows go to
the writer in input order -- for Parquet in row groups of exactly ``row_group_rows`` rows, so the
writer holds at most one row group and the file does not depend on where windows were cut. It is
written while the job runs (``_stream``) or, when a part changes the unified types, assembled from
the parts at the end (``assemble``); both through ``append_part``, so the same parts always give
the same bytes, however often the job was interrupted and resumed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import pyarrow as pa

ROW_GROUP_BYTES = 64 << 20  # the size a Parquet row group aims at, uncompressed
# At most 128Ki rows (DuckDB's row groups are 120Ki): a full row group is written while the job
# runs, so smaller ones leave less to write at the end; readers scan them as fast.
ROW_GROUP_ROWS_RANGE = (1024, 1 << 17)
VARIABLE_WIDTH_GUESS = 32  # bytes per value of a string or nested column, for sizing


def row_bytes_guess(schema: pa.Schema) -> int:
    """Bytes per row of ``schema``: fixed widths, and a guess for variable-width columns."""
    total = 0
    for field in schema:
        try:
            total += max(1, field.type.bit_width // 8)
        except ValueError:
            total += VARIABLE_WIDTH_GUESS
    return max(1, total)


def row_group_rows(schema: pa.Schema) -> int:
    low, high = ROW_GROUP_ROWS_RANGE
    return min(high, max(low, ROW_GROUP_BYTES // row_bytes_guess(schema)))


def part_bytes(table: pa.Table) -> pa.Buffer:
    """``table`` as the bytes of a part file: an Arrow IPC stream, built in memory so that its
    checksum is taken without reading the file back."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def read_part_schema(path: str) -> pa.Schema:
    with pa.OSFile(path, "rb") as source:
        return pa.ipc.open_stream(source).schema


@contextlib.contextmanager
def open_part(part) -> Iterator[pa.ipc.RecordBatchStreamReader]:
    """A reader of a part: its bytes (``part_bytes``) or the path of its file. Batches read from a
    file are in memory: the writer's buffered rows outlive the file."""
    if isinstance(part, str):
        with pa.OSFile(part, "rb") as source:
            yield pa.ipc.open_stream(source)
    else:
        yield pa.ipc.open_stream(part)


def append_part(writer, reader: Iterable[pa.RecordBatch], schema: pa.Schema) -> None:
    """The rows of one part (its reader, or its batches), cast to the output's ``schema``, into
    ``writer`` (``open_writer``)."""
    for batch in reader:
        writer.write(pa.Table.from_batches([batch]).cast(schema))


def unified_schema(schemas: list[pa.Schema]) -> pa.Schema:
    """One schema for every part: types promoted as pandas would for the whole column."""
    try:
        unified = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid) as error:
        raise TypeError(
            f"the function's results have different types in different rows, which one output "
            f"column cannot hold: {error}"
        ) from error
    return pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in unified])


class _RowGroupWriter:
    """Buffers rows so every Parquet row group has exactly ``rows`` rows (the last: the rest)."""

    def __init__(self, writer, rows: int):
        self.writer = writer
        self.rows = rows
        self.pending: list[pa.Table] = []
        self.pending_rows = 0

    def write(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.pending_rows += table.num_rows
        while self.pending_rows >= self.rows:
            buffered = pa.concat_tables(self.pending)
            self.writer.write_table(buffered.slice(0, self.rows), row_group_size=self.rows)
            rest = buffered.slice(self.rows)
            self.pending, self.pending_rows = [rest], rest.num_rows

    def close(self) -> None:
        if self.pending_rows:
            self.writer.write_table(pa.concat_tables(self.pending), row_group_size=self.rows)
        self.writer.close()

    def abandon(self) -> None:
        """Closes the file without the rows still buffered (it is about to be removed)."""
        self.pending, self.pending_rows = [], 0
        self.writer.close()


class _TableWriter:
    """An IPC or CSV writer with the same write/close surface."""

    def __init__(self, writer, stream=None):
        self.writer = writer
        self.stream = stream

    def write(self, table: pa.Table) -> None:
        self.writer.write_table(table)

    def close(self) -> None:
        self.writer.close()
        if self.stream is not None:
            self.stream.close()

    abandon = close


def open_writer(fmt: str, path: str, schema: pa.Schema):
    """A writer of ``schema`` tables in format ``fmt`` (see ``_output.output_format``) at ``path``."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        # Dictionaries for strings only: numbers (results, ids) rarely repeat, and building one that
        # is then abandoned for 1M distinct values costs more than the rest of the write.
        strings = (pa.types.is_string, pa.types.is_large_string)
        dictionary = [f.name for f in schema if any(is_string(f.type) for is_string in strings)]
        writer = pq.ParquetWriter(path, schema, use_dictionary=dictionary)
        return _RowGroupWriter(writer, row_group_rows(schema))
    if fmt in ("csv", "csv.gz"):
        import pyarrow.csv as csv

        stream = pa.CompressedOutputStream(path, "gzip") if fmt == "csv.gz" else None
        return _TableWriter(csv.CSVWriter(stream if stream is not None else path, schema), stream)
    return _TableWriter(pa.ipc.new_file(path, schema))


def assemble(part_paths: list[str], fmt: str, path: str) -> None:
    """Writes the rows of every part (there is at least one), in order, into one ``fmt`` file at
    ``path``."""
    schema = unified_schema([read_part_schema(p) for p in part_paths])
    writer = open_writer(fmt, path, schema)
    try:
        for part in part_paths:
            with open_part(part) as reader:
                append_part(writer, reader, schema)
    finally:
        writer.close()
