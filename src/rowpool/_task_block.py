"""A task's block in the arena, as the parent writes and reads it (layout in ``_protocol``):

    block ─► [chunk: the source's parts, packed by _codec] [progress slot] [result area: _results]

Only the thread running the job touches a block, from ``write`` until ``read`` frees it; the
worker running the task writes the progress slot and the result area in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from . import _codec, _protocol
from ._recovery import Range
from ._results import ChunkResults, area_bytes, reset_area

RESULT_BYTES_PER_ROW = 9  # a result slot and its tag; str and object results also need log space
MIN_LOG_BYTES = 64 << 10  # log space of a result area before str or object results were measured


@dataclass
class Task:
    """A chunk in flight: its rows, the worker running it and its arena block."""

    worker: int
    rows: Range
    block: int
    result_offset: int
    result_rows: int  # rows of its result area: one per row, one per map_batches chunk
    spilled: list = field(default_factory=list)  # result log entries that came on the queue


class BlockPlan(NamedTuple):
    """The sizes of a block holding ``parts`` and the result area of ``result_rows`` rows."""

    chunk_bytes: int
    result_capacity: int

    @property
    def total(self) -> int:
        return self.chunk_bytes + _protocol.PROGRESS_BYTES + self.result_capacity

    @classmethod
    def of(cls, parts: list, result_rows: int, log_bytes_per_row: float) -> BlockPlan:
        """``log_bytes_per_row``: the result log bytes per row measured so far (str/object)."""
        log_bytes = max(MIN_LOG_BYTES, int(1.25 * result_rows * log_bytes_per_row))
        return cls(_codec.packed_size(parts), area_bytes(result_rows, log_bytes))


def write(
    memory: np.ndarray,
    block: int,
    plan: BlockPlan,
    parts: list,
    rows: Range,
    result_rows: int,
    projection: int = 0,
) -> bytes:
    """Writes the chunk (cut to ``projection``'s columns, see ``_projection``), an empty progress
    slot and an empty result area at ``block``; returns the TASK record that tells a worker where
    they are."""
    _codec.pack(memory, block, parts)
    result_offset = block + plan.chunk_bytes + _protocol.PROGRESS_BYTES
    rows_started(memory, result_offset)[0] = 0
    reset_area(memory, result_offset, result_rows)
    record = _protocol.TaskRecord(
        block, plan.chunk_bytes, result_offset, plan.result_capacity, rows.begin, rows.end, projection
    )
    return record.pack()


def rows_started(memory: np.ndarray, result_offset: int) -> np.ndarray:
    """The progress slot of the task whose result area starts at ``result_offset``: how many of
    its rows the worker started."""
    return np.frombuffer(memory, dtype=np.int64, count=1, offset=result_offset - _protocol.PROGRESS_BYTES)


def read(memory: np.ndarray, task: Task) -> tuple[ChunkResults, float]:
    """What the worker wrote into ``task``'s result area (and spilled), and the result log bytes
    per row it took. The block may be freed after."""
    results = ChunkResults.read(memory, task.result_offset, task.result_rows, task.spilled)
    log_bytes = int(np.frombuffer(memory, dtype=np.int64, count=1, offset=task.result_offset)[0])
    per_row = (log_bytes + sum(map(len, task.spilled))) / max(1, task.result_rows)
    return results, per_row
