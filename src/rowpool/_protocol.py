"""Wire protocol between the parent and its workers: message kinds and the typed records they carry.

Every message is a fixed header (``Header``) plus a payload, carried by the C++ MessageQueue; bulk
data live in the arena. Numbers shared with C++ (``ResultKind``/``RowTag``, the segment's fd) come
from ``_core``, defined once there.

    parent -> worker  JOB         tag: job id    payload: the encoded JobSpec (``_spec.encode_spec``)
                      TASK        tag: chunk id  payload: a packed TaskRecord
                      COLUMNS     tag: chunk id  payload: the columns a FETCH asked for, their parts
                                                 packed by ``_codec`` in the layout
                                                 ``_projection.project(layout, positions)``
    worker -> parent  STARTED     tag: chunk id  the worker began the chunk (deadlines count from here)
                      RESULT      tag: chunk id  arg1: compute nanoseconds; flags: IMPORTED,
                                                 READ_ALL; the results are in the task's result area;
                                                 payload: int64 positions of the columns its rows
                                                 read that the worker had not reported (rows jobs)
                      FETCH       tag: chunk id  payload: int64 positions of columns a row of the
                                                 chunk reads that it lacks; the worker waits for
                                                 COLUMNS (stashing other messages meanwhile)
                      SPILLED     tag: chunk id  payload: result log entries that did not fit the area
                      JOB_FAILED  tag: job id    payload: a pickled JobFailure; flags: INIT_FAILED

A task's arena block (one per chunk in flight, freed when its results are read):

    block ─► [chunk: _codec layout] [progress slot: PROGRESS_BYTES] [result area: _results]

The chunk is the source's parts (``_source``) packed by ``_codec``; a chunk cut to the columns rows
read (``TaskRecord.projection`` > 0, see ``_projection``) has the projection's int64 column
positions as its part after the row labels, then the projection's parts. The progress slot (an int64 at
its start) holds how many rows of the chunk the worker has started: after a worker dies it names
the row that was running, so no bisection is needed to find a poison row. The result area holds
every finished row's result (layout in cpp/python/result_area.hpp), which outlives the worker.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

from .errors import InitError, SerializationError

# parent -> worker
JOB = 1
TASK = 2
COLUMNS = 3
# worker -> parent
RESULT = 10
JOB_FAILED = 11
STARTED = 12
SPILLED = 13
FETCH = 14

INIT_FAILED = 1  # JOB_FAILED flag: the job's init raised (else the job could not be unpickled)
# RESULT flag: the chunk imported modules (e.g. the first row needing pandas): a one-time cost, so
# the chunk's time says nothing about what its rows cost and the scheduler does not learn from it.
IMPORTED = 2
READ_ALL = 4  # RESULT flag: a row needed its genuine Series, so every column (see _projection)

PROGRESS_BYTES = 64


class Header(NamedTuple):
    """A message header as the C++ queue delivers it."""

    kind: int
    flags: int
    tag: int
    arg0: int
    arg1: int
    payload_bytes: int


_TASK_STRUCT = struct.Struct("<7Q")


class TaskRecord(NamedTuple):
    """Where a task's chunk and result area are in the arena, and the rows it covers."""

    chunk_offset: int
    chunk_bytes: int
    result_offset: int
    result_capacity: int
    begin: int
    end: int
    projection: int = 0  # the columns the chunk carries: 0 every one, else see _projection

    def pack(self) -> bytes:
        return _TASK_STRUCT.pack(*self)

    @classmethod
    def unpack(cls, payload: bytes) -> TaskRecord:
        return cls(*_TASK_STRUCT.unpack(payload))


class Failure(NamedTuple):
    """A row (or a map_batches chunk) whose function raised, as the worker describes it."""

    position: int  # of the row: within its chunk as read, absolute once collected (``_sink``)
    type_name: str  # the exception's qualified type name
    message: str
    traceback: str  # formatted in the worker
    described_type: Any  # the exception type, as ``_exception_types.describe_type`` describes it

    def at(self, offset: int) -> Failure:
        """The same failure, its position moved by ``offset`` rows."""
        return self._replace(position=self.position + offset)


class JobFailure(NamedTuple):
    """A worker could not load the job: unpickling the function or its arguments failed, or
    ``init`` raised (``INIT_FAILED``)."""

    what: str
    type_name: str
    message: str
    traceback: str

    def error(self, flags: int) -> Exception:
        """The exception the parent raises for it."""
        kind = InitError if flags & INIT_FAILED else SerializationError
        error = kind(f"{self.what}: {self.type_name}: {self.message}")
        error.worker_traceback = self.traceback
        if self.traceback and hasattr(error, "add_note"):
            error.add_note("Traceback in the worker process:\n" + self.traceback.rstrip())
        return error
