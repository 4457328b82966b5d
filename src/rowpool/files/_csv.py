"""CSV sources (also gzip-compressed: ``.csv.gz``), read with pyarrow's streaming reader.

Opening a CSV reads it once from end to end before any row runs (a parse, no conversion to pandas):
pyarrow infers column types from the first block only, while ``pandas.read_csv`` sees every value,
so a column of ints that holds ``1.5`` a million rows later must be read as float from its first
row on. The pass widens such columns (int to float, anything else to string) until the whole file
converts, counts the rows (for the progress bar) and finds every bad input before a worker starts:
a ragged row, bytes that are not UTF-8, a header without rows. Quoted fields may hold commas and
newlines.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pyarrow as pa

from ..errors import InputError
from ._sources import file_identity, rebatch, skip_rows

BLOCK_BYTES = 4 << 20
CONVERSION_ERROR = re.compile(r"In CSV column #(\d+): CSV conversion error to (\w+): invalid value '(.*)'")
RAGGED_ROW = re.compile(r"Row #(\d+): Expected (\d+) columns, got (\d+)")


def _widened(type_name: str, value: str) -> pa.DataType:
    if type_name.startswith(("int", "uint")):
        try:
            float(value)
            return pa.float64()
        except ValueError:
            pass
    return pa.large_string()


def _first_invalid_utf8(column: pa.Array) -> int:
    for position, value in enumerate(column.to_pylist()):
        try:
            if value is not None:
                value.decode("utf-8")
        except UnicodeDecodeError:
            return position
    return -1


class CsvSource:
    """A CSV file, its column types fixed by a full pass when it is opened (see the module)."""

    def __init__(self, path: str):
        if not os.path.exists(path):
            raise FileNotFoundError(2, f"no such CSV file: {path}", path)
        self.path = self.name = path
        self.column_types: dict[str, pa.DataType] = {}
        self.null_columns: set[str] = set()  # columns with an empty field (see _nulls)
        self.schema, self.rows = self._scan()
        self.result_kind = "pandas"

    def _open(self, include: list[str] | None = None, use_threads: bool = True):
        import pyarrow.csv as csv

        return csv.open_csv(
            self.path,
            read_options=csv.ReadOptions(block_size=BLOCK_BYTES, use_threads=use_threads),
            parse_options=csv.ParseOptions(newlines_in_values=True),
            convert_options=csv.ConvertOptions(column_types=self.column_types, include_columns=include),
        )

    def _scan(self) -> tuple[pa.Schema, int]:
        """Reads the file through until every column converts; returns its schema and row count."""
        while True:
            reader = None
            try:
                reader = self._open()
                rows = 0
                for batch in reader:
                    self._check_utf8(batch, rows)
                    self.null_columns.update(
                        batch.schema.names[j] for j, c in enumerate(batch.columns) if c.null_count
                    )
                    rows += batch.num_rows
            except pa.ArrowInvalid as error:
                if reader is not None and self._widen(str(error), reader.schema):
                    continue
                raise self._explained(error) from error
            except OSError as error:  # e.g. a corrupt gzip stream
                raise InputError(f"{self.path} cannot be read: {error}", path=self.path) from error
            if rows == 0:
                raise InputError(f"{self.path} has a header but no rows", path=self.path, row=0)
            return reader.schema, rows

    def _widen(self, message: str, schema: pa.Schema) -> bool:
        """Widens the column a conversion error names; False when it cannot be widened further."""
        match = CONVERSION_ERROR.search(message)
        if match is None:
            return False
        field = schema.field(int(match.group(1)))
        widened = _widened(match.group(2), match.group(3))
        if self.column_types.get(field.name) == widened:
            return False
        self.column_types[field.name] = widened
        return True

    def _explained(self, error: pa.ArrowInvalid) -> InputError:
        """The parse error with the line number of the row at fault, which pyarrow's threaded
        reader leaves out: the file is parsed once more on one thread to find it."""
        message = str(error)
        if "Expected" in message and "Row #" not in message:
            try:
                for _ in self._open(use_threads=False):
                    pass
            except pa.ArrowInvalid as located:
                message = str(located)
        ragged = RAGGED_ROW.search(message)
        line = int(ragged.group(1)) if ragged else None
        where = f" (line {line})" if line else ""
        return InputError(f"{self.path}{where}: {message}", path=self.path, row=line)

    def _check_utf8(self, batch: pa.RecordBatch, first_row: int) -> None:
        for name, column in zip(batch.schema.names, batch.columns):
            if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
                position = _first_invalid_utf8(column)
                if position >= 0:
                    raise InputError(
                        f"{self.path}: invalid UTF-8 in column {name!r}, row {first_row + position} "
                        f"(counting data rows from 0): {column[position].as_py()!r}",
                        path=self.path,
                        row=first_row + position,
                        column=name,
                    )

    def fingerprint(self) -> dict:
        return {"csv": file_identity(self.path), "columns": self.schema.names}

    def batches(self, start: int, batch_rows: int) -> Iterator[pa.RecordBatch]:
        reader = self._open(include=self.schema.names)
        return rebatch(skip_rows(iter(reader), start), batch_rows)
