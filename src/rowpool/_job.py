"""One job's run through a Pool: the parent's event loop.

    InputTable ──chunk_parts──► arena block ──TASK──► worker ──RESULT──► outcomes (by first row)
        ▲                                                   │
    Scheduler ◄──record(rows, seconds)──────────────────────┘

Each worker holds at most ``PREFETCH`` chunks, so it never waits for the next one; the arena bounds
the bytes in flight (dispatch pauses while it is full). The wait sleeps in the C++ Supervisor
with the GIL released and wakes on a result, on a worker's death, or on Ctrl-C.
"""

from __future__ import annotations

import pickle
import sys
from collections import deque
from dataclasses import dataclass

from . import _codec, _core, _protocol
from .errors import BudgetExceeded, EngineError, QueueClosed, SerializationError, WorkerLost

PREFETCH = 2
TARGET_CHUNK_SECONDS = 0.25
RESULT_BYTES_PER_ROW = 9  # a float64 plus pickle framing; larger results travel inline


@dataclass
class Task:
    worker: int
    begin: int
    end: int
    block: int
    result_offset: int


def encode_spec(spec) -> bytes:
    """The JOB payload: the parent's sys.path (so by-reference functions import in the worker),
    then the cloudpickled spec. Raises SerializationError naming what cannot be pickled."""
    import cloudpickle

    for what, value in (("func", spec.func), ("args", spec.args), ("kwargs", spec.kwargs)):
        try:
            cloudpickle.dumps(value)
        except Exception as exc:
            raise SerializationError(f"{what} cannot be pickled for the workers: {exc!r}") from exc
    return pickle.dumps((list(sys.path), cloudpickle.dumps(spec)))


class JobRun:
    def __init__(self, pool, table, spec, *, fixed_rows: int, progress, payload: bytes | None = None):
        self.pool = pool
        self.payload = payload
        self.table = table
        self.spec = spec
        self.progress = progress
        self.fixed_rows = fixed_rows
        self.inflight: dict[int, Task] = {}
        self.load: dict[int, int] = {}
        self.pending: deque = deque()
        self.outcomes: dict[int, tuple] = {}  # first row -> (end row, outcome)
        self.stopping = False
        capacity = pool.arena.capacity
        per_chunk = capacity // (PREFETCH * pool.workers + 1)
        self.scheduler = _core.Scheduler(
            table.rows,
            pool.workers,
            fixed_rows=fixed_rows,
            max_rows=max(1, per_chunk // (table.estimated_row_bytes() + RESULT_BYTES_PER_ROW)),
            target_seconds=TARGET_CHUNK_SECONDS,
        )
        self.chunk_ids = 0

    def run(self) -> dict:
        if self.payload is None:
            self.payload = encode_spec(self.spec)
        self.job_id = self.pool.start_job(self.payload)
        self.load = {w: 0 for w in self.pool.supervisor.workers()}
        self.pids = {w: self.pool.supervisor.pid(w) for w in self.load}
        while True:
            if not self.stopping:
                self.dispatch()
            if not self.inflight:
                break
            self.handle(self.pool.supervisor.wait(-1))
        if not self.stopping and (self.pending or self.scheduler.dispatched_rows < self.table.rows):
            raise EngineError("rowpool stopped before every row was dispatched (no live worker)")
        return self.outcomes

    def replace_worker(self) -> None:
        """Spawns a replacement for a worker that died while idle, and hands it the job."""
        supervisor = self.pool.supervisor
        self.pool._spawn_missing()
        for worker in supervisor.workers():
            if worker not in self.load:
                supervisor.send(worker, _protocol.JOB, 0, self.job_id, 0, 0, self.payload)
                self.load[worker] = 0
                self.pids[worker] = supervisor.pid(worker)

    # -- dispatch ---------------------------------------------------------------------------------
    def next_chunk(self):
        if self.pending:
            return self.pending.popleft()
        chunk = self.scheduler.next()
        return None if chunk is None else (chunk.begin, chunk.end)

    def dispatch(self) -> None:
        arena = self.pool.arena
        while True:
            idle = [w for w, n in self.load.items() if n < PREFETCH]
            if not idle:
                return
            chunk = self.next_chunk()
            if chunk is None:
                return
            begin, end = chunk
            parts = self.table.chunk_parts(begin, end)
            size = _codec.packed_size(parts)
            result_capacity = _codec._align((end - begin) * RESULT_BYTES_PER_ROW + 256)
            total = size + result_capacity
            if total > arena.capacity // 2 and end - begin > 1 and not self.fixed_rows:
                middle = (begin + end) // 2  # a chunk too big for the budget: halve it
                self.pending.extendleft([(middle, end), (begin, middle)])
                continue
            try:
                block = arena.allocate(total)
            except BudgetExceeded as exc:
                raise BudgetExceeded(
                    f"rows {begin}..{end - 1} need {total} bytes of shared memory, more than the "
                    f"budget of {arena.capacity} bytes; raise memory_budget or lower chunk_rows"
                ) from exc
            if block is None:  # arena full: wait for a result to free space
                self.pending.appendleft(chunk)
                return
            worker = min(idle, key=self.load.__getitem__)
            _codec.pack(self.pool.memory, block, parts)
            record = _protocol.TASK_RECORD.pack(block, size, block + size, result_capacity, begin, end)
            chunk_id = self.chunk_ids
            self.chunk_ids += 1
            self.inflight[chunk_id] = Task(worker, begin, end, block, block + size)
            self.load[worker] += 1
            try:
                self.pool.supervisor.send(worker, _protocol.TASK, 0, chunk_id, 0, 0, record)
            except QueueClosed:  # it died before this task reached it: report its death
                self.worker_exited(worker, self.pool.supervisor.terminate(worker, 0))

    # -- events -----------------------------------------------------------------------------------
    def handle(self, event) -> None:
        what, worker, detail = event
        if what == "exited":
            self.worker_exited(worker, detail)
            return
        kind, flags, tag, arg0, arg1, payload_bytes = detail
        payload = self.pool.supervisor.receive_payload(worker, payload_bytes)
        if kind == _protocol.RESULT:
            self.result(tag, flags, arg0, arg1, payload)
        elif kind == _protocol.JOB_FAILED:
            what, type_name, message, traceback = pickle.loads(payload)
            error = SerializationError(f"{what}: {type_name}: {message}")
            error.worker_traceback = traceback
            if traceback and hasattr(error, "add_note"):
                error.add_note("Traceback in the worker process:\n" + traceback.rstrip())
            raise error

    def result(self, chunk_id, flags, size, compute_ns, payload) -> None:
        task = self.inflight.pop(chunk_id)
        self.load[task.worker] -= 1
        if flags & _protocol.IN_ARENA:
            offset = task.result_offset
            payload = self.pool.memory[offset : offset + size].tobytes()
        self.pool.arena.release(task.block)
        outcome = pickle.loads(payload)
        self.scheduler.record(task.end - task.begin, compute_ns / 1e9)
        self.outcomes[task.begin] = (task.end, outcome)
        if outcome[3] and self.spec.errors == "raise":
            self.stopping = True  # drain what is in flight, then report the earliest failure
        if self.progress is not None:
            self.progress.update(task.end - task.begin)

    def worker_exited(self, worker, status) -> None:
        exit_code, signal_number, text = status
        lost = [t for t in self.inflight.values() if t.worker == worker]
        self.load.pop(worker, None)
        pid = self.pids.get(worker)
        if not lost:
            if not self.stopping:
                self.replace_worker()
            return
        index = self.table.frame.index
        first, last = min(t.begin for t in lost), max(t.end for t in lost) - 1
        raise WorkerLost(
            f"a worker (pid {pid}) died ({text}) while running rows {index[first]!r} to "
            f"{index[last]!r} (positions {first}..{last})",
            exit_code=None if signal_number else exit_code,
            signal=signal_number or None,
            pid=pid,
            rows=list(index[first : last + 1]),
        )
