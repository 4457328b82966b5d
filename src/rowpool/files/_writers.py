"""Writing results: one window's part file, and the final output assembled from all parts.

Each committed window's results (``keep`` columns, then the result columns) are an Arrow IPC
stream, its types as pandas gave them for that window. The output is assembled at the end, when
every part is known: the parts' schemas are unified the way pandas would type the whole column (a
window of ints and one of floats give float64; an all-missing window takes the others' type), each
part is cast to that schema, and rows go to the writer in input order -- for Parquet in row groups of
exactly ``row_group_rows`` rows, so the writer holds at most one row group and the file does not
depend on where windows were cut. The same parts thus always give the same bytes, however often
the job was interrupted and resumed.
"""

from __future__ import annotations

import os

import pyarrow as pa

ROW_GROUP_BYTES = 64 << 20  # the size a Parquet row group aims at, uncompressed
ROW_GROUP_ROWS_RANGE = (1024, 1 << 20)
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


def write_part(table: pa.Table, path: str) -> None:
    """Writes ``table`` as an Arrow IPC stream at ``path`` and fsyncs it."""
    with open(path, "wb") as f:
        with pa.ipc.new_stream(f, table.schema) as writer:
            writer.write_table(table)
        f.flush()
        os.fsync(f.fileno())


def read_part_schema(path: str) -> pa.Schema:
    with pa.OSFile(path, "rb") as source:
        return pa.ipc.open_stream(source).schema


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
            with pa.OSFile(part, "rb") as source:  # read into memory: buffered rows outlive the file
                for batch in pa.ipc.open_stream(source):
                    writer.write(pa.Table.from_batches([batch]).cast(schema))
    finally:
        writer.close()
