"""Which integer and boolean columns of a source hold a missing value anywhere.

pandas types such a column by the whole table: ``pandas.read_parquet`` gives float64 for an int
column and object for a bool column with a missing value anywhere, int64 / bool otherwise. A file
job converts its input window by window, so it asks first -- footer statistics of Parquet files
(the column is read where a file has none), null counts of in-memory and memory-mapped Arrow data,
the CSV source's pass -- and every window is converted the same way (``_windows.ArrowWindows``).
A stream cannot be asked: it runs window by window, each typed on its own.
"""

from __future__ import annotations

import pyarrow as pa

from ._sources import DatasetSource, IpcSource, ParquetSource, StreamSource, TableSource


def _may_change_type(field: pa.Field, pandas_types: dict) -> bool:
    """An int or bool column that pandas converts to a numpy dtype (not a stored ``Int64``-like
    extension dtype, which holds missing values as they are)."""
    stored = pandas_types.get(field.name)
    if stored is not None and stored not in ("bool",) and not stored.startswith(("int", "uint")):
        return False
    return pa.types.is_integer(field.type) or pa.types.is_boolean(field.type)


def columns_with_nulls(source, names: list[str]) -> set[str]:
    """The columns among ``names`` that pandas would type differently because of a missing value."""
    metadata = source.schema.pandas_metadata or {}
    pandas_types = {c.get("name"): c.get("numpy_type") for c in metadata.get("columns", [])}
    candidates = [n for n in names if _may_change_type(source.schema.field(n), pandas_types)]
    if not candidates or isinstance(source, StreamSource):
        return set()
    if isinstance(source, TableSource):
        return {n for n in candidates if source.table.column(n).null_count}
    if isinstance(source, ParquetSource):
        return _parquet_nulls(source, candidates)
    if isinstance(source, IpcSource):
        if source.rows is None:
            return set()
        return _batch_nulls(source.batches(0, 1 << 20), candidates)
    if isinstance(source, DatasetSource):
        return _batch_nulls(source.dataset.to_batches(columns=candidates), candidates)
    return set(getattr(source, "null_columns", ())) & set(candidates)  # the CSV pass counted them


def _batch_nulls(batches, names: list[str]) -> set[str]:
    found: set[str] = set()
    for batch in batches:
        found.update(n for n in names if n not in found and batch.column(n).null_count)
        if len(found) == len(names):
            break
    return found


def _parquet_nulls(source: ParquetSource, names: list[str]) -> set[str]:
    import pyarrow.parquet as pq

    found: set[str] = set()
    for path in source.paths:
        file = pq.ParquetFile(path)
        metadata = file.metadata
        if metadata.num_row_groups == 0:
            continue
        group = metadata.row_group(0)
        positions = {group.column(j).path_in_schema: j for j in range(group.num_columns)}
        for g in range(metadata.num_row_groups):
            for name in names:
                if name in found:
                    continue
                j = positions.get(name)
                statistics = None if j is None else metadata.row_group(g).column(j).statistics
                if statistics is not None and statistics.has_null_count:
                    nulls = statistics.null_count
                else:  # no statistics: read the column of this row group
                    nulls = file.read_row_group(g, columns=[name]).column(0).null_count
                if nulls:
                    found.add(name)
    return found
