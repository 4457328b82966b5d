"""Per-row results: the result area a worker fills as rows finish, read back by the parent.

A worker writes each row's result into its task's result area the moment the row finishes
(``_core.ResultWriter``; layout in cpp/python/result_area.hpp): scalars (float, int, bool, their
numpy twins, None) as an 8-byte slot plus a one-byte tag, str / other objects / failures as entries
of a log whose length is committed with an atomic store; entries that do not fit travel on the
queue (SPILLED messages) before the worker could die. A row with a tag is finished. So after a
worker dies the parent still has every finished row's result, up to the progress slot, and re-runs
only the row that was running and the rows after it: ``func`` runs exactly once for every row that
did not kill its worker. The fast path (a chunk of floats or ints) costs one typed store per row in
the worker and one ``np.frombuffer`` view per chunk in the parent, no pickling.

A job's ChunkResults reach its Sink in row order (``_sink``); the pandas result is assembled from
them by ``rowpool._pandas.assemble``.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field

import numpy as np

from . import _core
from ._codec import align
from ._protocol import Failure

RowTag = _core.RowTag  # what a row's result is; defined in C++ (cpp/python/result_area.hpp)
HEADER_BYTES = _core.RESULT_AREA_HEADER_BYTES
LOCAL_LOG_BYTES = 64 << 10  # log of an area in the calling process (it spills into a list)
TAGS_PER_COUNT = 1 << 16  # present_tags' block


def area_bytes(rows: int, log_bytes: int) -> int:
    """Size of a result area for ``rows`` rows with a log of at least ``log_bytes`` bytes."""
    return align(HEADER_BYTES + 9 * rows) + align(log_bytes)


def reset_area(memory: np.ndarray, offset: int, rows: int) -> None:
    """Marks every row of the result area at ``offset`` unfinished and its log empty."""
    memory[offset : offset + 8] = 0
    tags = offset + HEADER_BYTES + 8 * rows
    memory[tags : tags + rows] = 0


@dataclass
class ChunkResults:
    """The results of rows [0, len(tags)) of a chunk (positions relative to its first row)."""

    tags: np.ndarray  # uint8 RowTag per row
    slots: np.ndarray  # int64 per row: the bits of a scalar result
    objects: dict = field(default_factory=dict)  # position -> value of a STR or OBJECT row
    errors: dict = field(default_factory=dict)  # position -> (type name, message, traceback, type)

    @classmethod
    def read(cls, memory: np.ndarray, offset: int, rows: int, spilled: list) -> ChunkResults:
        """The results in the area at ``offset`` (copied: the block is freed next) plus the log
        entries that were ``spilled`` on the queue."""
        slots = np.frombuffer(memory, dtype=np.int64, count=rows, offset=offset + HEADER_BYTES).copy()
        tags = memory[offset + HEADER_BYTES + 8 * rows : offset + HEADER_BYTES + 9 * rows].copy()
        log_bytes = int(np.frombuffer(memory, dtype=np.int64, count=1, offset=offset)[0])
        log_start = offset + align(HEADER_BYTES + 9 * rows)
        results = cls(tags, slots)
        # Keyed by position: a log spilled just before the worker died may repeat in the area.
        for log in (*spilled, memory[log_start : log_start + log_bytes]):
            for pos, tag, value in _core.parse_log(log, results.objects):
                if tag == RowTag.OBJECT:
                    results.objects[pos] = pickle.loads(value)
                else:
                    results.errors[pos] = pickle.loads(value)
        return results

    @property
    def failures(self) -> list[Failure]:
        """The failed rows, in order (positions relative to the chunk's first row)."""
        return [Failure(pos, *self.errors[pos]) for pos in sorted(self.errors)]

    @classmethod
    def failed(cls, rows: int, description: tuple) -> ChunkResults:
        """``rows`` rows that all failed with ``description`` (type name, message, traceback, type)."""
        tags = np.full(rows, RowTag.FAILED, dtype=np.uint8)
        return cls(tags, np.zeros(rows, dtype=np.int64), {}, dict.fromkeys(range(rows), description))

    @classmethod
    def room_for(cls, rows: int) -> ChunkResults:
        """Room for the results of ``rows`` rows, filled range by range with ``place`` (its pages
        are touched only as ranges arrive: nothing is held twice, nothing concatenated)."""
        return cls(np.empty(rows, dtype=np.uint8), np.empty(rows, dtype=np.int64))

    def place(self, begin: int, results: ChunkResults) -> None:
        """Copies ``results`` in as the results of rows [begin, begin + len(results.tags))."""
        end = begin + len(results.tags)
        self.tags[begin:end] = results.tags
        self.slots[begin:end] = results.slots
        self.objects.update((begin + pos, value) for pos, value in results.objects.items())
        self.errors.update((begin + pos, error) for pos, error in results.errors.items())

    @classmethod
    def holding(cls, value) -> ChunkResults:
        """One batch's result ``value``, held as the object it is."""
        return cls(np.array([RowTag.OBJECT], dtype=np.uint8), np.zeros(1, dtype=np.int64), {0: value})

    def finished(self) -> int:
        """How many leading rows finished (with a result or a failure)."""
        pending = np.flatnonzero(self.tags == RowTag.PENDING)
        return int(pending[0]) if len(pending) else len(self.tags)

    def head(self, rows: int) -> ChunkResults:
        """The results of the first ``rows`` rows."""
        return ChunkResults(
            self.tags[:rows],
            self.slots[:rows],
            {p: v for p, v in self.objects.items() if p < rows},
            {p: e for p, e in self.errors.items() if p < rows},
        )

    def values(self) -> list:
        """The result of every row as the Python object ``func`` returned (None for failures)."""
        rows = len(self.tags)
        if len(self.objects) == rows:  # str and object results only
            return list(map(self.objects.__getitem__, range(rows)))
        values = [None] * rows
        floats = self.slots.view(np.float64)
        for tag in present_tags(self.tags):
            where = np.flatnonzero(self.tags == tag)
            if tag == RowTag.FLOAT:
                found = floats[where].tolist()
            elif tag == RowTag.NUMPY_FLOAT:
                found = list(floats[where])
            elif tag == RowTag.INT:
                found = self.slots[where].tolist()
            elif tag == RowTag.NUMPY_INT:
                found = list(self.slots[where])
            elif tag == RowTag.BOOL:
                found = (self.slots[where] != 0).tolist()
            elif tag == RowTag.NUMPY_BOOL:
                found = list(self.slots[where] != 0)
            elif tag in (RowTag.STR, RowTag.OBJECT):
                found = [self.objects[pos] for pos in where.tolist()]
            else:
                continue  # None, failures
            for pos, value in zip(where.tolist(), found):
                values[pos] = value
        return values


def run_here(rows: int, fill, encode, describe) -> ChunkResults:
    """The results of ``rows`` rows run in this process: ``fill(writer)`` writes them through a
    ``_core.ResultWriter`` over an area in this process's memory, exactly as a worker would."""
    area = np.zeros(area_bytes(rows, LOCAL_LOG_BYTES), dtype=np.uint8)
    spilled: list = []
    writer = _core.ResultWriter(area, rows, encode, describe, spilled.append)
    try:
        fill(writer)
    finally:
        del writer  # it holds the area's buffer
    return ChunkResults.read(area, 0, rows, spilled)


def present_tags(tags: np.ndarray) -> list[int]:
    """The RowTags that occur in ``tags`` (a count, not a sort: this runs over every row), counted
    block by block: ``bincount`` widens its input to int64, 8 bytes per row at once otherwise."""
    counts = np.zeros(256, dtype=np.int64)  # tags are uint8
    for start in range(0, len(tags), TAGS_PER_COUNT):
        counts += np.bincount(tags[start : start + TAGS_PER_COUNT], minlength=256)
    return np.flatnonzero(counts).tolist()
