"""A source cut into parts for a cluster: row ranges planned in the client, read on a worker.

A pandas DataFrame is cut into row slices (scattered to the workers by ``_cluster``). A file source
(a Parquet file, directory or glob; a CSV or Arrow IPC file) is named by its path, which every
worker must be able to open (a shared or network file system): a Parquet source is cut at row
group boundaries, whole row groups per part, so a part reads only its own row groups; an Arrow IPC
file with a known row count into even row ranges; a CSV file (its rows are known only by reading
it) is one part. A part, read on a worker, is the pandas frame the local file path would hand
``func`` for those rows (same dtypes, same row labels) plus the ``keep`` columns.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PARTS_PER_THREAD = 4  # parts per Dask worker thread: enough to balance, few enough to be cheap


@dataclass(frozen=True)
class Part:
    """Rows [begin, end) of the input, the ``number``-th part."""

    number: int
    begin: int
    end: int


def even_parts(rows: int, count: int) -> list[Part]:
    """``rows`` cut into at most ``count`` ranges of near-equal length (one empty part for 0 rows)."""
    count = max(1, min(count, rows))
    bounds = [rows * i // count for i in range(count + 1)]
    return [Part(i, bounds[i], bounds[i + 1]) for i in range(count)]


def row_group_parts(group_rows: list[int], count: int) -> list[Part]:
    """Consecutive row groups gathered into about ``count`` parts of near-equal rows."""
    total = sum(group_rows)
    target = max(1, -(-total // max(1, count)))
    parts: list[Part] = []
    begin = end = 0
    for rows in group_rows:
        end += rows
        if end - begin >= target:
            parts.append(Part(len(parts), begin, end))
            begin = end
    if end > begin or not parts:
        parts.append(Part(len(parts), begin, end))
    return parts


def check_file_source(source) -> str:
    """The path of a file source a cluster job can give its workers; TypeError otherwise."""
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            "with cluster=, df must be a pandas DataFrame or the path of a Parquet, CSV or Arrow IPC "
            f"file (or a directory or glob of Parquet files) that every worker can read, not "
            f"{type(source).__name__}"
        )
    return os.path.abspath(os.fspath(source))


def plan_file(path: str, columns, keep, window_bytes: int, count: int) -> tuple[list[Part], dict]:
    """The parts of a file source and its fingerprint (what a resumed job compares)."""
    from ..files._open import open_source

    opened = open_source(path, columns, keep, window_bytes)
    source = opened.windows.source
    groups = getattr(source, "row_groups", None)
    if groups is not None:
        parts = row_group_parts([rows for _path, _group, rows in groups], count)
    elif opened.rows is not None:
        parts = even_parts(opened.rows, count)
    else:
        parts = [Part(0, 0, -1)]  # read to the end
    return parts, opened.fingerprint


def read_file_part(path: str, part: Part, columns, keep, window_bytes: int):
    """(frame for func, keep columns as a pandas frame or None) of ``part`` of a file source."""
    import pandas as pd

    from ..files._open import open_source

    windows = open_source(path, columns, keep, window_bytes).windows
    frames, kept = [], []
    for window in windows(part.begin):
        stop = window.end if part.end < 0 else min(window.end, part.end)
        rows = stop - window.begin
        frames.append(window.frame.iloc[:rows])
        if window.keep is not None:
            kept.append(window.keep.slice(0, rows).to_pandas())
        if stop == part.end:
            break
    frame = pd.concat(frames) if len(frames) > 1 else frames[0]
    keep_frame = None
    if kept:
        keep_frame = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]
        keep_frame.index = frame.index
    return frame, keep_frame
