"""Windows: consecutive row ranges of a source, the unit a file job runs and commits.

A window is a pandas DataFrame of the rows (what ``func`` sees, typed as ``pandas.read_parquet``
or ``read_csv`` would type the whole file, labelled by row position -- or by the index the file's
pandas metadata stores) plus the ``keep`` columns as Arrow, copied to the output untouched. Windows
grow from ``window_bytes / FIRST_WINDOW_SHARE`` (Arrow size) to ``window_bytes`` and, for an input
of known length, shrink again towards its end (each takes half of what is left, down to the
first's size: the results of the last window are written after its last row, so it is kept
short); a read-ahead thread prepares the next window while workers run the current one, so at
most ``READ_AHEAD`` windows wait ready.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa

from ._nulls import columns_with_nulls
from ._writers import row_bytes_guess

READ_AHEAD = 1
# The first window is this fraction of window_bytes and each next one twice the last (until the
# input's end nears): work starts after a short read, and the big windows later pay the per-window
# costs rarely.
FIRST_WINDOW_SHARE = 16
MAX_BATCH_ROWS = 1 << 16


class Window:
    """Rows [begin, end) of the input: ``frame`` for ``func``, ``keep`` (Arrow) for the output.
    A window of a row job over Arrow data holds its rows as Arrow (``rows``, see ``_arrow_rows``):
    its ``frame`` is made from them only if something asks for it."""

    def __init__(self, begin: int, end: int, frame: Any, keep: pa.Table | None, rows: Any = None):
        self.begin = begin
        self.end = end
        self._frame = frame  # pandas.DataFrame, or None until made from ``rows``
        self.keep = keep
        self.rows = rows  # _arrow_rows.ArrowRows or None

    @property
    def frame(self):
        if self._frame is None and self.rows is not None:
            self._frame = self.rows.to_frame()
        return self._frame

    @frame.setter
    def frame(self, frame) -> None:
        self._frame = frame

    @property
    def index(self):
        """The row labels (of the frame, made or not)."""
        return self.rows.index if self._frame is None and self.rows is not None else self.frame.index

    def like_frame(self):
        """The frame the window's ``apply`` result is shaped like: its frame, or one of no columns
        with its index and the input's class and ``attrs`` when it has none."""
        return self.rows.like_frame() if self._frame is None and self.rows is not None else self.frame


def pandas_index(schema: pa.Schema) -> tuple[list[str], dict | None]:
    """From the pandas metadata of ``schema``: the columns that hold the stored index, and the
    stored RangeIndex (start, step) when the index was a range."""
    metadata = schema.pandas_metadata or {}
    stored = metadata.get("index_columns", [])
    columns = [c for c in stored if isinstance(c, str) and schema.get_field_index(c) >= 0]
    ranges = [c for c in stored if isinstance(c, dict) and c.get("kind") == "range"]
    return columns, (ranges[0] if ranges and not columns else None)


class ArrowWindows:
    """Windows of an Arrow source (files, tables, streams)."""

    def __init__(self, source, func_names: list[str], keep: list[str], window_bytes: int):
        self.source = source
        self.keep = keep
        self.index_columns, self.range_index = pandas_index(source.schema)
        self.frame_names = func_names + [c for c in self.index_columns if c not in func_names]
        self.window_bytes = window_bytes
        nulls = columns_with_nulls(source, self.frame_names)  # typed as pandas types the whole input
        ints = {n for n in nulls if pa.types.is_integer(source.schema.field(n).type)}
        self.as_float = [n for n in self.frame_names if n in ints]  # as pandas: float64 with NaN
        self.as_object = [n for n in self.frame_names if n in nulls and n not in ints]  # bools with None
        # pandas.read_csv holds the missing values of object columns as NaN (read_parquet: None);
        # only the CSV source counts null_columns (see _nulls)
        csv_nulls = getattr(source, "null_columns", ())
        self.missing_as_nan = [n for n in self.frame_names if n in csv_nulls]
        guess = row_bytes_guess(source.schema)
        # Batches of half a window: windows come out at 1 to 1.5 times window_bytes, and the
        # readers' per-batch costs (high for wide files) are paid a few times per window.
        self.batch_rows = max(1, min(MAX_BATCH_ROWS, window_bytes // 2 // guess))
        self.model = None  # the pandas frame of the first row read as ArrowRows

    def _func_table(self, table: pa.Table) -> pa.Table:
        """The columns ``func`` reads, ints with missing values as float64 (as pandas has them)."""
        table = table.select(self.frame_names)
        for column in self.as_float:
            position = table.schema.get_field_index(column)
            table = table.set_column(position, column, table.column(column).cast(pa.float64()))
        return table

    def index(self, begin: int, rows: int):
        """The RangeIndex of rows [begin, begin + rows) (the stored one's, continued, if any)."""
        import pandas as pd

        start, step = 0, 1
        if self.range_index is not None:
            start, step = self.range_index.get("start", 0), self.range_index.get("step", 1)
        name = self.range_index.get("name") if self.range_index is not None else None
        first = start + begin * step
        return pd.RangeIndex(first, first + rows * step, step, name=name)

    def frame(self, table: pa.Table, begin: int, *, selected: bool = False):
        """Rows of ``table`` (from input row ``begin``) as ``func``'s pandas frame; ``selected``:
        ``table`` holds only ``func``'s columns already (``_func_table``)."""
        frame = (table if selected else self._func_table(table)).to_pandas()
        for column in self.as_object:
            frame[column] = frame[column].astype(object)
        for column in self.missing_as_nan:
            values = frame[column]
            if values.dtype == object:
                frame[column] = values.where(values.notna(), np.nan)
        if not self.index_columns:
            frame.index = self.index(begin, len(frame))
        return frame

    def _window(self, batches: list[pa.RecordBatch], begin: int, for_rows: bool) -> Window:
        table = pa.Table.from_batches(batches, schema=self.source.schema)
        keep = table.select(self.keep).replace_schema_metadata(None) if self.keep else None
        end = begin + table.num_rows
        if not for_rows:
            return Window(begin, end, self.frame(table, begin), keep)
        from ._arrow_rows import ArrowRows

        selected = self._func_table(table)  # batch by batch: cut into chunks without joining them
        if self.model is None:
            self.model = self.frame(selected.slice(0, 1), begin, selected=True)
        to_frame = partial(self.frame, selected, begin, selected=True)
        rows = ArrowRows(selected, self.index(begin, end - begin), self.model, to_frame)
        return Window(begin, end, None, keep, rows)

    def rows_as_arrow(self, for_rows: bool) -> bool:
        """Whether a job of rows (``for_rows``) reads windows as ``ArrowRows``: no stored index and
        no column pandas holds as objects (bools with missing values)."""
        return for_rows and not self.index_columns and not self.as_object

    def __call__(self, start: int, *, for_rows: bool = False) -> Iterator[Window]:
        """Windows from input row ``start``; ``for_rows``: for one job of rows (``ArrowRows``
        where ``rows_as_arrow``)."""
        as_arrow = self.rows_as_arrow(for_rows)
        first_target = target = max(1, self.window_bytes // FIRST_WINDOW_SHARE)
        pending, size, begin = [], 0, start
        for batch in self.source.batches(start, self.batch_rows):
            row_bytes = max(1, batch.nbytes // max(1, batch.num_rows))
            while batch.num_rows:
                rows = min(batch.num_rows, max(1, -(-(target - size) // row_bytes)))
                pending.append(batch.slice(0, rows))
                size += rows * row_bytes
                batch = batch.slice(rows)
                if size >= target:
                    window = self._window(pending, begin, as_arrow)
                    yield window
                    pending, size, begin = [], 0, window.end
                    target = min(self.window_bytes, 2 * target)
                    if self.source.rows is not None:  # the last windows halve: a short tail
                        left = (self.source.rows - window.end) * row_bytes
                        target = min(target, max(first_target, left // 2))
        if pending or begin == start == 0:  # an empty input is one empty window
            yield self._window(pending, begin, as_arrow)


class FrameWindows:
    """Windows of an in-memory pandas DataFrame: row slices (views), no conversion."""

    def __init__(self, frame, func_names: list[str] | None, keep: list[str], window_bytes: int):
        self.frame = frame if func_names is None else frame[func_names]
        self.keep_frame = frame[keep] if keep else None
        self.rows = len(frame)
        per_row = max(1, int(frame.memory_usage(deep=False).sum()) // max(1, len(frame)))
        self.window_rows = max(1, window_bytes // per_row)

    def __call__(self, start: int, *, for_rows: bool = False) -> Iterator[Window]:
        """Windows from row ``start`` (``for_rows`` changes nothing: they are frames already)."""
        if self.rows == 0:
            yield Window(0, 0, self.frame, self._keep(0, 0))
        for begin in range(start, self.rows, self.window_rows):
            end = min(self.rows, begin + self.window_rows)
            yield Window(begin, end, self.frame.iloc[begin:end], self._keep(begin, end))

    def _keep(self, begin: int, end: int) -> pa.Table | None:
        if self.keep_frame is None:
            return None
        keep = pa.Table.from_pandas(self.keep_frame.iloc[begin:end], preserve_index=False)
        return keep.replace_schema_metadata(None)


_DONE = object()


def read_ahead(windows: Iterator[Window], depth: int = READ_AHEAD) -> Generator[Window, None, None]:
    """``windows``, produced on a thread up to ``depth`` ahead of the consumer. An error in the
    thread is raised in the consumer; closing the iterator stops the thread."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce():
        try:
            for window in windows:
                while not stop.is_set():
                    try:
                        ready.put(window, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(_DONE)
        except BaseException as error:  # handed over to the consumer, raised there
            ready.put(error)

    thread = threading.Thread(target=produce, name="rowpool-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                ready.get_nowait()  # unblocks a producer waiting to put
            except queue.Empty:
                thread.join(0.05)
