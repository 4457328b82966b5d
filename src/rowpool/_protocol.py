"""Wire protocol between the parent and its workers (message kinds and the task record).

Every message is a fixed header ``(kind, flags, tag, arg0, arg1, payload_bytes)`` plus a payload,
carried by the C++ MessageQueue. Bulk data (input chunks, results that fit) live in the arena.
"""

from __future__ import annotations

import struct

# parent -> worker
JOB = 1  # payload: cloudpickled JobSpec; tag: job id
TASK = 2  # payload: TASK_RECORD; tag: chunk id
# worker -> parent
RESULT = 10  # tag: chunk id; flags: IMPORTED; arg1: compute nanoseconds; the results are in the
# task's result area (rowpool._results)
STARTED = 12  # tag: chunk id; the worker began it (deadlines count from here)
JOB_FAILED = 11  # payload: pickled (what, type name, message, traceback); tag: job id; flags:
INIT_FAILED = 1  # ... the job's init raised (else the job could not be unpickled)
SPILLED = 13  # tag: chunk id; payload: result log entries that did not fit the result area

# The chunk imported modules (e.g. the first row needing pandas): a one-time cost, so the chunk's
# time says nothing about what its rows cost and the scheduler does not learn from it.
IMPORTED = 2

# chunk offset, chunk bytes, result offset, result capacity, first row, end row
TASK_RECORD = struct.Struct("<6Q")

# A task's arena block: [chunk][progress slot][result area]. The progress slot (an int64 just before
# the result area) holds how many rows of the chunk the worker has started; after a worker dies it
# names the row that was running, so the parent needs no bisection to find a poison row. The result
# area (rowpool._results) holds every finished row's result, which outlives the worker.
PROGRESS_BYTES = 64
