"""Turning what the user passed into a source: a path (Parquet, CSV, Arrow IPC; a directory or glob
of Parquet files), a ``pyarrow.dataset.Dataset``, a ``pyarrow.Table`` / ``RecordBatch`` /
``RecordBatchReader``, a ``polars.DataFrame`` or a pandas DataFrame; and projecting it to the
columns the job reads."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ._sources import (
    CSV_SUFFIXES,
    IPC_SUFFIXES,
    PARQUET_SUFFIXES,
    DatasetSource,
    IpcSource,
    ParquetSource,
    StreamSource,
    TableSource,
    expand_paths,
    project,
)
from ._windows import ArrowWindows, FrameWindows, pandas_index


@dataclass
class Opened:
    """An opened source: its ``windows`` factory, the result ``kind`` without ``output=``, its
    ``rows`` (None when unknown), its ``fingerprint`` and the input ``paths`` (never written)."""

    windows: Any  # ArrowWindows or FrameWindows: called with a first row, yields windows
    kind: str
    rows: int | None
    fingerprint: dict
    paths: list[str]


def _format_of(path: str) -> str:
    lowered = path.lower()
    for suffixes, fmt in ((PARQUET_SUFFIXES, "parquet"), (CSV_SUFFIXES, "csv"), (IPC_SUFFIXES, "ipc")):
        if lowered.endswith(suffixes):
            return fmt
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic[:4] == b"PAR1":
        return "parquet"
    if magic == b"ARROW1":
        return "ipc"
    raise ValueError(
        f"cannot tell the format of {path}: name it *.parquet, *.csv, *.csv.gz, *.arrow or *.feather"
    )


def _path_source(source) -> tuple[object, list[str]]:
    pattern = os.fspath(source)
    paths = expand_paths(pattern)
    formats = {_format_of(p) for p in paths}
    if len(paths) > 1 and formats != {"parquet"}:
        raise ValueError(f"{pattern}: several files are read as one table only when all are Parquet files")
    fmt = formats.pop()
    if fmt == "parquet":
        return ParquetSource(paths, pattern), paths
    if fmt == "csv":
        from ._csv import CsvSource

        return CsvSource(paths[0]), paths
    return IpcSource(paths[0]), paths


def _arrow_source(source) -> tuple[Any, list[str]] | None:
    if isinstance(source, (str, os.PathLike)):
        return _path_source(source)
    if isinstance(source, pa.Table):
        return TableSource(source, "arrow"), []
    if isinstance(source, pa.RecordBatch):
        return TableSource(pa.Table.from_batches([source]), "arrow", "pyarrow.RecordBatch"), []
    if isinstance(source, pa.RecordBatchReader):
        return StreamSource(source), []
    if type(source).__module__.startswith("polars") and type(source).__name__ == "DataFrame":
        return TableSource(pa.table(source), "polars", "polars.DataFrame"), []  # Arrow C stream
    if type(source).__module__.startswith("pyarrow._dataset"):
        return DatasetSource(source), [os.path.abspath(f) for f in getattr(source, "files", [])]
    return None


def open_source(source, columns: list[str] | None, keep: list[str], window_bytes: int) -> Opened:
    """The source of ``source``, reading ``columns`` (all when None) plus the ``keep`` columns."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        names = list(source.columns)
        for name in (columns or []) + keep:
            if name not in names:
                raise ValueError(f"the DataFrame has no column {name!r}")
        fingerprint = {"pandas": [len(source), [str(c) for c in names]], "columns": columns, "keep": keep}
        return Opened(
            FrameWindows(source, columns, keep, window_bytes), "pandas", len(source), fingerprint, []
        )
    opened = _arrow_source(source)
    if opened is None:
        series = " (rowpool.map(series, func) maps a Series' values)" if isinstance(source, pd.Series) else ""
        raise TypeError(
            "df must be a pandas or polars DataFrame, a pyarrow Table, RecordBatch, "
            "RecordBatchReader or Dataset, or the path of a Parquet, CSV or Arrow IPC file "
            f"(or a directory or glob of Parquet files), not {type(source).__name__}{series}"
        )
    arrow_source, paths = opened
    func_names = list(arrow_source.schema.names) if columns is None else list(columns)
    index_columns, _ = pandas_index(arrow_source.schema)
    extra = [n for n in keep + index_columns if n not in func_names]
    arrow_source.schema = project(
        arrow_source.schema, func_names + list(dict.fromkeys(extra)), arrow_source.name
    )
    windows = ArrowWindows(arrow_source, func_names, keep, window_bytes)
    fingerprint = dict(arrow_source.fingerprint(), func_columns=func_names, keep=keep)
    return Opened(windows, arrow_source.result_kind, arrow_source.rows, fingerprint, paths)
