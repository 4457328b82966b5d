"""The Source seam: what a job reads.

A source is a table of ``rows`` rows that cuts itself into chunks of column buffers plus row
labels, which the dispatcher packs into the arena (``_codec``). It says its length and its
``Schema``: the column labels and the layout of every chunk's parts, which travel once per job to
the workers (inside the JobSpec) so that they can decode each chunk.

    class Source(Protocol):
        rows: int                                   # length
        schema: Schema                              # column labels, part layout, row dtype
        def estimated_row_bytes(self) -> int        # first guess for chunk sizing
        def can_read(self, begin, end) -> bool      # optional; False: cut them after a result
        def chunk_parts(self, begin, end, projection=None) -> list  # rows [begin, end) as buffers
        def local_chunk(self, begin, end) -> Chunk  # the same rows decoded in this process
        def local_frame(self, begin, end)           # the rows as map_batches' function takes them
        def label(self, position)                   # a row's label (error messages)
        def labels(self, begin, end) -> list        # rows' labels (WorkerLost.rows)
        weight_bounds: Sequence[int]                # optional; [i]: the weight of rows [0, i)
        def chunk_end(self, begin, end) -> int      # optional; where the chunk the scheduler sized
                                                    # as [begin, end) ends instead (begin < it <= end)
        def local_end(self, begin, end) -> int      # optional; where a piece the calling process
                                                    # runs as [begin, end) ends instead (begin < it <= end)
        def too_big(self, begin, end, needed, budget) -> str  # optional; rows [begin, end) need
                                                    # more arena bytes than the budget: why, and what to do

``weight_bounds`` says what rows cost relative to each other where they differ by design (a row
of groupby's table is a whole group, weighing its rows): the calling process prices the rows it
leaves to workers by weight (``rowpool._local``); without it every row weighs 1.
``chunk_end`` lets such a source keep a row that outweighs the rows around it alone in its chunk
(the dispatcher runs the rest of the scheduler's chunk next, see ``GroupTable.chunk_end``).
``local_end`` lets a source whose rows are held in pieces (a file's windows) end the rows the
calling process runs at a piece's end, so that it need not join two pieces' rows (a copy).
``can_read`` lets a source that reads its rows as they are asked for (a file) bound what it holds:
while it says False (asked only while chunks are in flight) the dispatcher waits for a result.
``chunk_parts`` is called from the parent's main thread once per chunk, in row order for fresh
chunks (a re-run after a worker's death asks again for rows already read). Parts are numpy arrays
(copied byte for byte into the arena; views of the source's memory are fine) or bytes. The first
part is the pickled row labels (a ``range``, a numpy array of plain labels, or any picklable
sequence); then one part per ``Schema.layout`` entry ``(kind, dtype, column positions,
rows_major)``:

    "block"   a 2-D numpy block of the columns at ``positions`` (row-major when ``rows_major``)
    "raw"     one numpy column, byte for byte
    "utf8"    one str column: int64 offsets (rows + 1), a validity byte per row, the UTF-8 bytes
    "cells"   one column of fixed-width values, then (if masked) a byte per row, non-zero where
              missing; the entry's dtype is a ``rowpool._pandas.cells.CellFormat``
    "pickle"  one column of anything else, pickled (protocol 5)

With a ``projection`` (``rowpool._projection.Projection``, row jobs once workers reported the
columns their rows read) the parts follow ``projection.layout`` instead: per ``projection.cuts``
entry, the job's layout entry it comes from, a block cut to the columns at the given offsets.

A worker decodes them without pandas (``rowpool._pandas.chunk.decode_chunk``) unless a row needs a
pandas object. The in-memory pandas DataFrame (``rowpool._pandas.source.FrameSource``) is the
first source; a file window (``rowpool.files``) and a Dask partition are in-memory frames too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass
class Schema:
    """What every worker knows of the input, sent once per job."""

    labels: list  # column labels, as plain Python objects
    column_index: bytes  # the pickled pandas column Index (loaded only when a row needs it)
    attribute_labels: frozenset  # labels reachable as row.<label> (not shadowed by a Series attribute)
    layout: list  # per chunk part after the labels: (kind, dtype, column positions, rows_major)
    row_dtype: Any  # dtype of pandas' row Series (apply); None for map_batches

    @property
    def width(self) -> int:
        return len(self.labels)


class Source(Protocol):
    """See the module docstring."""

    rows: int
    schema: Schema

    def estimated_row_bytes(self) -> int: ...

    def chunk_parts(self, begin: int, end: int, projection: Any = None) -> list: ...

    def local_chunk(self, begin: int, end: int) -> Any: ...

    def local_frame(self, begin: int, end: int) -> Any: ...

    def label(self, position: int) -> Any: ...

    def labels(self, begin: int, end: int) -> list: ...
