"""The worker's side of chunks cut to the columns rows read (see ``rowpool._projection``): decoding
them, and completing one with the columns a row reads that it lacks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import _codec
from .._projection import project
from .chunk import Chunk, Places, decode_buffers, decode_chunk, decode_part
from .rows import JobContext


def decode_task_chunk(memory: np.ndarray, offset: int, context: JobContext, projection: int) -> Chunk:
    """The chunk at ``offset``, carrying the columns of projection number ``projection`` (0: every
    column, ``chunk.decode_chunk``). Its layout and Places are worked out once per projection and
    job, from the column positions the chunk holds after its row labels."""
    if projection == 0:
        return decode_chunk(memory, offset, context)
    buffers = _codec.unpack(memory, offset)
    known = context.projections.get(projection)
    if known is None:
        layout = project(context.spec.schema.layout, buffers[1].view(np.int64).tolist()).layout
        known = context.projections[projection] = (layout, Places.of(layout, context.width))
    layout, places = known
    return decode_buffers(buffers[0], buffers[2:], layout, places)


class ColumnFetcher:
    """Completes a chunk with columns it lacks (``RowSource``'s ``fetch``): ``ask(positions)``
    sends FETCH and returns the COLUMNS reply."""

    def __init__(self, context: JobContext, ask: Callable[[np.ndarray], bytes]):
        self.context = context
        self.ask = ask

    def __call__(self, chunk: Chunk, positions: list | None) -> Chunk:
        """``chunk`` with the columns at ``positions`` (None: every column it lacks) added."""
        if positions is None:
            positions = [j for j, place in enumerate(chunk.places) if place is None]
        reply = self.ask(np.array(positions, dtype=np.int64))
        # A writable, aligned copy: the reply's bytes are neither.
        buffers = _codec.unpack(np.frombuffer(reply, dtype=np.uint8).copy(), 0)
        layout = project(self.context.spec.schema.layout, positions).layout
        rows = len(chunk.index)
        parts = [decode_part(buffer, entry, rows) for buffer, entry in zip(buffers, layout)]
        places = Places.of(layout, self.context.width, list(chunk.places), len(chunk.parts))
        added = [(entry[2], part) for entry, part in zip(layout, parts)]
        return Chunk(chunk.index, chunk.parts + added, None, places.columns)
