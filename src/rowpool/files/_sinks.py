"""Where a file job's results go, window by window in row order.

``FileSink`` commits each window (its part file, then its journal record) and appends it to the
output as it goes (``_stream``; assembled from the parts at the end when it cannot); ``MemorySink``
gathers the results and returns them as the input's kind: pandas for files and DataFrames, Arrow
for Arrow tables and streams, polars for polars frames.
"""

from __future__ import annotations

import queue
import threading

import pyarrow as pa

from ._journal import Journal
from ._output import OutputTarget, writing_error
from ._stream import OutputStream
from ._windows import Window
from ._writers import assemble, part_bytes, unified_schema

COMMIT_QUEUE = 2  # windows converted but not yet committed
RESULT_COLUMN = "result"  # the output column of scalar results (a Series without a name)


def result_table(result, window: Window) -> pa.Table:
    """The results of ``window`` as an Arrow table: the ``keep`` columns, then the result columns
    (a DataFrame's columns, or one column for a Series), typed by pyarrow from pandas' dtypes."""
    import pandas as pd

    try:
        if isinstance(result, pd.DataFrame):
            table = pa.Table.from_pandas(result, preserve_index=False)
        else:
            name = RESULT_COLUMN if result.name is None else str(result.name)
            table = pa.table({name: pa.Array.from_pandas(result)})
    except (pa.ArrowException, TypeError, ValueError) as error:
        raise TypeError(
            f"the results of rows {window.begin} to {window.end - 1} cannot be stored as a typed "
            f"column (return values of one type per column, e.g. str or float): {error}"
        ) from error
    table = table.replace_schema_metadata(None)
    if window.keep is None:
        return table
    if table.num_rows != window.keep.num_rows:
        raise ValueError(
            f"keep= needs one result per row, but rows {window.begin} to {window.end - 1} "
            f"({window.keep.num_rows} rows) gave {table.num_rows} results"
        )
    clash = set(window.keep.column_names) & set(table.column_names)
    if clash:
        raise ValueError(f"keep column {sorted(clash)[0]!r} has the name of a result column")
    return pa.Table.from_arrays(
        window.keep.columns + table.columns, names=window.keep.column_names + table.column_names
    )


class FileSink:
    """Results into ``target`` through the journal (see ``_journal`` and ``_writers``).

    A window's results become an Arrow table in the caller's thread; a committer thread writes its
    part file, commits it and appends it to the output stream while the job goes on, in window
    order, at most ``COMMIT_QUEUE`` windows behind (it first streams the parts an earlier run
    committed). ``close`` waits for it; its first error is raised by the next ``add``, by
    ``close`` or by ``finish``.

    The window that ends the input (``rows``, when known) is only streamed, without a part file
    or a journal record, unless it has failures or the stream cannot take it: the job's tail then
    waits for no part file, and a run stopped before the output is in place runs that window again
    when resumed (its journal does not say done).
    """

    def __init__(self, target: OutputTarget, journal: Journal, rows: int | None = None):
        self.target = target
        self.journal = journal
        self.input_rows = rows
        self.streamed_end: int | None = None  # the end of the last window, streamed only
        self.stream = OutputStream(target.format, target.temporary)
        self.queue: queue.Queue = queue.Queue(maxsize=COMMIT_QUEUE)
        self.error: BaseException | None = None
        self.committer: threading.Thread | None = None

    def add(self, window: Window, result, failures: list) -> None:
        self._raise_error()
        table = result_table(result, window)
        if self.committer is None:
            self.committer = threading.Thread(target=self._commit_all, name="rowpool-commit", daemon=True)
            self.committer.start()
        self.queue.put((window.begin, window.end, table, failures))

    @property
    def rows(self) -> int:
        """Rows of the input in the output so far (committed, or streamed at the end)."""
        return self.journal.rows if self.streamed_end is None else self.streamed_end

    def _commit_all(self) -> None:
        """The committer thread: commits queued windows until None; after an error it only drains
        the queue (so that ``add`` never waits for a thread that stopped)."""
        try:
            for part in self.journal.parts:
                self._stream(self.journal.path(part.name))
        except BaseException as error:  # raised in the caller's thread
            self.error = error
        while (item := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self._commit(*item)
                except BaseException as error:  # raised in the caller's thread
                    self.error = error

    def _commit(self, begin: int, end: int, table: pa.Table, failures: list) -> None:
        if end == self.input_rows and not failures and self._stream_table(table):
            self.streamed_end = end
            return
        data = part_bytes(table)
        try:
            self.journal.commit(begin, end, data, failures)
        except OSError as error:
            raise writing_error(error, self.journal.path(self.journal.new_part_name())) from error
        self._stream(data)

    def _stream(self, part) -> None:
        try:
            self.stream.add(part)
        except OSError as error:
            raise writing_error(error, self.target.path) from error

    def _stream_table(self, table: pa.Table) -> bool:
        try:
            return self.stream.add_table(table)
        except OSError as error:
            raise writing_error(error, self.target.path) from error

    def _raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self, *, stopped: bool = False) -> None:
        """Waits until every window added is committed (or the committer failed); ``stopped``
        (a run that ends without its output): then removes the output's temporary file and
        fsyncs what was committed, for a resume."""
        if self.committer is not None:
            self.queue.put(None)
            self.committer.join()
            self.committer = None
        if stopped:
            self.stream.stop()
            try:
                self.journal.sync()
            except OSError:  # the error that stopped the run is the one to report
                pass

    def finish(self) -> None:
        """Completes the output under its temporary name (the stream's, else assembled from the
        parts) and moves it into place."""
        self.close()
        self._raise_error()
        parts = [self.journal.path(p.name) for p in self.journal.parts]
        try:
            streamed_only = self.streamed_end is not None
            if self.stream.complete(len(parts) + streamed_only):
                self.stream.close()
            else:
                self.stream.stop()
                assemble(parts, self.target.format, self.target.temporary)
        except OSError as error:
            self.target.discard()
            raise writing_error(error, self.target.path) from error
        except BaseException:
            self.target.discard()
            raise
        if self.streamed_end is None:
            self.journal.mark_done()
        self.target.publish()
        self.journal.remove()


class MemorySink:
    """Results gathered in memory, returned as ``kind`` (``"pandas"``, ``"arrow"``, ``"polars"``):
    pandas results concatenated as pandas; Arrow and polars ones as one table (DataFrame results)
    or one chunked array (scalar results), typed like one output file's columns."""

    def __init__(self, kind: str):
        self.kind = kind
        self.results: list = []
        self.frames = False  # the function returned DataFrames

    def add(self, window: Window, result, failures: list) -> None:
        import pandas as pd

        self.frames = isinstance(result, pd.DataFrame)
        if self.kind == "pandas":
            self.results.append(result)
        else:
            self.results.append(result_table(result, Window(window.begin, window.end, None, None)))

    def finish(self):
        """The gathered result (None when there were no rows: the caller answers that case)."""
        if not self.results:
            return None
        if self.kind == "pandas":
            import pandas as pd

            return pd.concat(self.results)
        schema = unified_schema([t.schema for t in self.results])
        table = pa.concat_tables([t.cast(schema) for t in self.results])
        result = table if self.frames else table.column(0)
        if self.kind == "polars":
            import polars as pl

            return pl.from_arrow(result)
        return result


def journal_failures_frame(failures: list):
    """The failures DataFrame of ``errors="collect"`` from journal records: indexed by row
    position, with the exception type, message and traceback."""
    import pandas as pd

    return pd.DataFrame(
        {
            "exception": [f[1] for f in failures],
            "message": [f[2] for f in failures],
            "traceback": [f[3] for f in failures],
        },
        index=pd.Index([f[0] for f in failures], dtype="int64"),
    )
