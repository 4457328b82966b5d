"""The output file written while the job runs: each committed part's rows are appended to the
output's temporary file right after the part's commit, so that at the end only the last row group
and the footer are left to write, and the rest is on disk already.

The output's column types are those of every part unified (``_writers.unified_schema``), which only
the last part settles. The stream writes with the types of the parts so far and stops when a part
would change them (an int column that becomes float, a column that was all missing so far); the
output is then assembled from the parts at the end (``_writers.assemble``). Both ways write the
same tables (read from the same part bytes) through the same writer with the same types, so the
output's bytes do not depend on which way it was written -- nor on where a run was interrupted: a
resumed run first streams the parts committed before it.

Owned by the FileSink's committer thread while it runs; by the caller's thread after ``close``.
"""

from __future__ import annotations

import contextlib
import os

import pyarrow as pa

from ._writers import append_part, open_part, open_writer, unified_schema


def start_writeback(path: str) -> None:
    """Starts writing the file's cached pages to the disk without waiting for it (on Linux,
    POSIX_FADV_DONTNEED does that before it drops the clean pages); an fsync here would make the
    committer thread, and through it the job, wait for a busy disk."""
    if not hasattr(os, "posix_fadvise"):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


class OutputStream:
    """The output in format ``fmt`` at ``path`` (its temporary name), part by part."""

    def __init__(self, fmt: str, path: str):
        self.fmt = fmt
        self.path = path
        self.schema: pa.Schema | None = None  # the types of the parts written so far
        self.writer = None
        self.parts = 0  # parts written
        self.stopped = False  # a part changed the types: the output is assembled at the end

    def add(self, part) -> None:
        """Appends the rows of ``part`` (its bytes, or the path of its file), unless the stream
        stopped; then starts writing them to the disk, so that publishing the output, which
        fsyncs it, waits for little more than its tail."""
        if self.stopped:
            return
        with open_part(part) as reader:
            self._append(reader.schema, reader)

    def add_table(self, table: pa.Table) -> bool:
        """Appends ``table`` as ``add`` appends the part holding it (the same batches: the same
        bytes); whether the stream holds its rows (False: it had stopped, or stops here)."""
        if not self.stopped:
            self._append(table.schema, table.to_batches())
        return not self.stopped

    def _append(self, schema: pa.Schema, batches) -> None:
        if self.schema is None:
            if any(pa.types.is_null(field.type) for field in schema):
                self.stop()  # a later part settles that column's type
                return
            self.schema = unified_schema([schema])
            self.writer = open_writer(self.fmt, self.path, self.schema)
        elif unified_schema([self.schema, schema]) != self.schema:
            self.stop()
            return
        append_part(self.writer, batches, self.schema)
        self.parts += 1
        start_writeback(self.path)

    def complete(self, parts: int) -> bool:
        """Whether the stream holds every one of ``parts`` parts (committed, or added as tables)."""
        return not self.stopped and self.parts == parts and self.writer is not None

    def close(self) -> None:
        """Writes what the writer buffers (the last row group) and the footer."""
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.close()

    def stop(self) -> None:
        """Gives up: the file goes (the output will be assembled from the parts)."""
        self.stopped = True
        writer, self.writer = self.writer, None
        if writer is not None:
            with contextlib.suppress(OSError, pa.ArrowException):
                writer.abandon()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
