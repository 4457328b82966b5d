"""CSV sources (also gzip-compressed: ``.csv.gz``; tab-separated: ``.tsv``, ``.tsv.gz``), read with
pyarrow's streaming reader.

Opening a CSV reads it once from end to end before any row runs (a parse, no conversion to pandas):
pyarrow infers column types from the first block only, while ``pandas.read_csv`` sees every value,
so a column of ints that holds ``1.5`` a million rows later must be read as float from its first
row on. The pass widens such columns (empty so far to int, int to float, anything else to string)
until the whole file converts, counts the rows (for the progress bar) and finds every bad input
before a worker starts: a ragged row, bytes that are not UTF-8, a header without rows. Quoted
fields may hold commas and newlines.

Read as ``pandas.read_csv`` reads with its defaults: the fields pandas takes for missing values
(``NA_VALUES``, also in string columns, quoted or not) are missing; only ``True``/``False`` (in
three spellings) are bools; dates and times stay strings (pandas parses none unless asked); a
column with no value is float64; an empty header is ``"Unnamed: {i}"`` and a repeated one
``"name.1"``, ``"name.2"``... (``pandas_names``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pyarrow as pa

from ..errors import InputError
from ._sources import file_identity, rebatch, skip_rows

BLOCK_BYTES = 4 << 20
TAB_SEPARATED_SUFFIXES = (".tsv", ".tsv.gz")
TRUE_VALUES = ["True", "TRUE", "true"]  # pandas.read_csv's bools (pyarrow's also take 1 and 0)
FALSE_VALUES = ["False", "FALSE", "false"]
# The fields pandas.read_csv reads as missing by default (its documented ``na_values``).
NA_VALUES = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip
CONVERSION_ERROR = re.compile(r"In CSV column #(\d+): CSV conversion error to (\w+): invalid value '(.*)'")
RAGGED_ROW = re.compile(r"Row #(\d+): Expected (\d+) columns, got (\d+)")


def _widened(type_name: str, value: str) -> pa.DataType:
    """The type a column inferred as ``type_name`` from its first block takes for ``value``."""
    if type_name == "null":  # no value in the first block: the next one may be a number
        return pa.int64()
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


def pandas_names(header: list[str]) -> list[str]:
    """The column names ``pandas.read_csv`` gives ``header``: an empty one is ``"Unnamed: {i}"``;
    a name seen before gets the first free ``".{n}"`` suffix (named columns first, then unnamed
    ones), never one that a column of the header has."""
    names = [name or f"Unnamed: {i}" for i, name in enumerate(header)]
    order = [i for i, name in enumerate(header) if name] + [i for i, name in enumerate(header) if not name]
    taken = set(names)
    next_suffix: dict[str, int] = {}  # the names given so far, and the suffix each tries next
    for i in order:
        name = names[i]
        if name in next_suffix:
            suffix = next_suffix[name]
            while f"{name}.{suffix}" in taken or f"{name}.{suffix}" in next_suffix:
                suffix += 1
            next_suffix[name] = suffix + 1
            name = f"{name}.{suffix}"
        next_suffix.setdefault(name, 1)
        names[i] = name
    return names


class CsvSource:
    """A CSV file, its column types fixed by a full pass when it is opened (see the module)."""

    def __init__(self, path: str):
        if not os.path.exists(path):
            raise FileNotFoundError(2, f"no such CSV file: {path}", path)
        self.path = self.name = path
        self.delimiter = "\t" if path.lower().endswith(TAB_SEPARATED_SUFFIXES) else ","
        self.column_types: dict[str, pa.DataType] = {}
        # columns with a missing field (see _nulls; _windows holds them as read_csv does)
        self.null_columns: set[str] = set()
        self.names: list[str] | None = None  # pandas' names, when they are not the header's
        self.schema, self.rows = self._scan()
        self.result_kind = "pandas"

    def _open(self, include: list[str] | None = None, use_threads: bool = True):
        import pyarrow.csv as csv

        names = {} if self.names is None else {"column_names": self.names, "skip_rows": 1}
        return csv.open_csv(
            self.path,
            read_options=csv.ReadOptions(block_size=BLOCK_BYTES, use_threads=use_threads, **names),
            parse_options=csv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True),
            convert_options=csv.ConvertOptions(
                column_types=self.column_types,
                include_columns=include,
                null_values=NA_VALUES,
                strings_can_be_null=True,
                true_values=TRUE_VALUES,
                false_values=FALSE_VALUES,
            ),
        )

    def _scan(self) -> tuple[pa.Schema, int]:
        """Reads the file through until every column converts; returns its schema and row count."""
        while True:
            reader = None
            try:
                reader = self._open()
                if self._renamed(reader.schema) or self._strings_for_temporal(reader.schema):
                    continue
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
            return self._floats_for_empty(reader.schema), rows

    def _renamed(self, schema: pa.Schema) -> bool:
        """Reads the columns under pandas' names when the header's differ (see the module);
        whether they did."""
        names = pandas_names(schema.names)
        if names == schema.names:
            return False
        self.names = names
        return True

    def _strings_for_temporal(self, schema: pa.Schema) -> bool:
        """Reads the columns inferred as dates or times as strings; whether there were any."""
        inferred = [f for f in schema if f.name not in self.column_types]
        temporal = [f.name for f in inferred if pa.types.is_temporal(f.type)]
        self.column_types.update((name, pa.large_string()) for name in temporal)
        return bool(temporal)

    def _floats_for_empty(self, schema: pa.Schema) -> pa.Schema:
        """``schema``, its columns without any value typed float64, as pandas types them."""
        for i, field in enumerate(schema):
            if pa.types.is_null(field.type):
                self.column_types[field.name] = pa.float64()
                schema = schema.set(i, field.with_type(pa.float64()))
        return schema

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
