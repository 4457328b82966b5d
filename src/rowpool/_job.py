"""One job's run through a Pool: the parent's event loop.

    InputTable ──chunk_parts──► arena block ──TASK──► worker ──RESULT──► outcomes (by first row)
        ▲                                                   │
    Scheduler ◄──record(rows, seconds)──────────────────────┘

Each worker holds at most ``PREFETCH`` chunks, so it never waits for the next one; the arena bounds
the bytes in flight (dispatch pauses while it is full). The wait sleeps in the C++ Supervisor
with the GIL released and wakes on a result, on a worker's death, on a chunk's deadline, or on Ctrl-C.

Recovery: a worker runs its chunks in order, so when it dies (or passes its chunk's deadline and is
killed) only the chunk at the head of its queue is suspect; the others are re-queued as they are.
Within the suspect chunk, the worker's progress slot (an int64 in the arena it updates before each
row) names the row that was running: that row alone becomes suspect, the rows before it re-run
(their results died with the worker) and the rows after it never ran. Without a slot reading
(a death before the first row) the chunk is bisected. A single row that kills its worker more than
``retries`` times (or times out once) is a poison row: it fails the job (``errors="raise"``) or
becomes a failure record (``"coerce"``/``"collect"``).

A worker that dies before it started the chunk at the head of its queue loses no suspect: all its
chunks are re-queued as they are. If it never started any chunk of this job it died loading the
job (unpickling the function or its arguments); more than ``retries`` such deaths in a row mean the
function cannot be loaded in a worker, and the job fails instead of respawning workers forever.

Memory (``max_worker_memory``, bytes of a worker's own resident memory, the shared arena excluded):
after each result the worker's memory is read from /proc; a worker past the limit is retired (it
gets no new chunks, and is replaced once it returned those it holds). While chunks run, the memory of
busy workers is sampled every ``MEMORY_CHECK_SECONDS`` (the wait then wakes at least that often); a
worker past the limit mid-chunk is stopped and handled like a dead worker, so the row that blows
memory is found the same way. A worker that the chunk grew by no more than half the limit (it passed the limit
because of a leak of its earlier chunks) is stopped without blaming the chunk, which re-runs as it
is (a bounded number of times).
"""

from __future__ import annotations

import pickle
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from . import _codec, _core, _protocol
from ._memory import worker_memory
from .errors import BudgetExceeded, EngineError, QueueClosed, RowTimeout, SerializationError, WorkerLost

PREFETCH = 2
TARGET_CHUNK_SECONDS = 0.25
RESULT_BYTES_PER_ROW = 9  # a float64 plus pickle framing; larger results travel inline
TIMEOUT_GRACE_MS = 1000  # SIGTERM, then SIGKILL after this, for a worker past its deadline
MEMORY_CHECK_SECONDS = 0.2  # how often busy workers' memory is sampled when max_worker_memory is set
RETIRE_GRACE_MS = 1000  # a retired worker is idle: it exits at once on EOF or SIGTERM
MAX_SPARED_OVERRUNS = 4  # times a range passing max_worker_memory is re-run without blame


@dataclass
class Task:
    worker: int
    begin: int
    end: int
    block: int
    result_offset: int
    deaths: int = 0  # deaths of workers while this range (or a range containing it) ran


@dataclass
class WorkerState:
    queue: deque = field(default_factory=deque)  # chunk ids in the order the worker runs them
    running: int | None = None  # the chunk the worker reported it started
    started: float = 0.0  # when it started
    loaded: bool = False  # it started a chunk of this job, so it loaded the job
    retiring: bool = False  # past max_worker_memory between chunks: no new chunks, then replaced
    baseline: int = 0  # its memory at its last result (with max_worker_memory)


class JobRun:
    def __init__(
        self,
        pool,
        table,
        spec,
        *,
        fixed_rows: int,
        progress,
        payload: bytes,
        retries: int = 2,
        timeout: float | None = None,
        max_worker_memory: int | None = None,
    ):
        self.pool = pool
        self.retries = retries
        self.timeout = timeout
        self.max_memory = max_worker_memory
        self.last_memory_check = 0.0
        self.load_deaths = 0  # consecutive deaths of workers that had not loaded the job yet
        self.recycled = 0  # workers retired for passing max_worker_memory between chunks
        self.spared: Counter = Counter()  # (begin, end) -> overruns not blamed on that range
        self.payload = payload
        self.table = table
        self.spec = spec
        self.progress = progress
        self.fixed_rows = fixed_rows
        self.inflight: dict[int, Task] = {}
        self.workers: dict[int, WorkerState] = {}
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
        self.job_id = self.pool.start_job(self.payload)
        self.workers = {w: WorkerState() for w in self.pool.supervisor.workers()}
        self.pids = {w: self.pool.supervisor.pid(w) for w in self.workers}
        while True:
            if not self.stopping:
                self.dispatch()
            if not self.inflight:
                break
            event = self.pool.supervisor.wait(self.wait_ms())
            if event is None:
                self.enforce_deadlines()
            else:
                self.handle(event)
            if self.max_memory is not None:
                self.check_memory()
        if not self.stopping and (self.pending or self.scheduler.dispatched_rows < self.table.rows):
            raise EngineError("rowpool stopped before every row was dispatched (no live worker)")
        return self.outcomes

    def replace_worker(self, extra: int = 0) -> None:
        """Spawns replacements for lost workers (``extra``: for workers still retiring), and hands
        them the job."""
        supervisor = self.pool.supervisor
        self.pool._spawn_missing(extra)
        for worker in supervisor.workers():
            if worker not in self.workers:
                self.workers[worker] = WorkerState()
                self.pids[worker] = supervisor.pid(worker)
                try:
                    supervisor.send(worker, _protocol.JOB, 0, self.job_id, 0, 0, self.payload)
                except QueueClosed:
                    pass  # it died at once: its exit event comes next and counts as a loading death

    # -- dispatch ---------------------------------------------------------------------------------
    def next_chunk(self):
        """(begin, end, deaths) of the next range to run: re-queued ranges first."""
        if self.pending:
            return self.pending.popleft()
        chunk = self.scheduler.next()
        return None if chunk is None else (chunk.begin, chunk.end, 0)

    def dispatch(self) -> None:
        arena = self.pool.arena
        while True:
            idle = [w for w, s in self.workers.items() if len(s.queue) < PREFETCH and not s.retiring]
            if not idle:
                return
            rerun = bool(self.pending)
            chunk = self.next_chunk()
            if chunk is None:
                return
            begin, end, deaths = chunk
            parts = self.table.chunk_parts(begin, end)
            size = _codec.packed_size(parts)
            result_capacity = _codec.align((end - begin) * RESULT_BYTES_PER_ROW + 256)
            total = size + _protocol.PROGRESS_BYTES + result_capacity
            if total > arena.capacity // 2 and end - begin > 1 and not self.fixed_rows:
                middle = (begin + end) // 2  # a chunk too big for the budget: halve it
                self.pending.extendleft([(middle, end, deaths), (begin, middle, deaths)])
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
            # A re-run (after a death or a memory overrun) goes to the worker holding the least
            # memory, a fresh replacement when there is one (baseline is 0 without a memory limit).
            worker = min(
                idle, key=lambda w: (self.workers[w].baseline if rerun else 0, len(self.workers[w].queue))
            )
            _codec.pack(self.pool.memory, block, parts)
            result_offset = block + size + _protocol.PROGRESS_BYTES
            self.rows_started(result_offset)[0] = 0
            record = _protocol.TASK_RECORD.pack(block, size, result_offset, result_capacity, begin, end)
            chunk_id = self.chunk_ids
            self.chunk_ids += 1
            self.inflight[chunk_id] = Task(worker, begin, end, block, result_offset, deaths)
            self.workers[worker].queue.append(chunk_id)
            try:
                self.pool.supervisor.send(worker, _protocol.TASK, 0, chunk_id, 0, 0, record)
            except QueueClosed:  # it died before this task reached it
                # What it sent before dying (a result, STARTED) comes first: its death must blame
                # the chunk it was really running.
                self.handle_ready()
                if worker in self.workers:
                    self.worker_exited(worker, self.pool.supervisor.terminate(worker, 0))

    # -- events -----------------------------------------------------------------------------------
    def handle(self, event) -> None:
        what, worker, detail = event
        if what == "exited":
            self.worker_exited(worker, detail)
            return
        kind, flags, tag, arg0, arg1, payload_bytes = detail
        payload = self.pool.supervisor.receive_payload(worker, payload_bytes)
        if kind == _protocol.STARTED:
            state = self.workers[worker]
            state.running, state.started = tag, time.monotonic()
            state.loaded = True
            self.load_deaths = 0
        elif kind == _protocol.RESULT:
            self.result(tag, flags, arg0, arg1, payload)
            if self.max_memory is not None:
                self.check_retire(worker)
        elif kind == _protocol.JOB_FAILED:
            what, type_name, message, traceback = pickle.loads(payload)
            error = SerializationError(f"{what}: {type_name}: {message}")
            error.worker_traceback = traceback
            if traceback and hasattr(error, "add_note"):
                error.add_note("Traceback in the worker process:\n" + traceback.rstrip())
            raise error

    def handle_ready(self) -> None:
        """Handles every event already waiting, without blocking (a worker's messages come before
        its death)."""
        while len(self.pool.supervisor):
            event = self.pool.supervisor.wait(0)
            if event is None:
                return
            self.handle(event)

    def result(self, chunk_id, flags, size, compute_ns, payload) -> None:
        task = self.inflight.pop(chunk_id)
        self.workers[task.worker].queue.remove(chunk_id)
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

    # -- recovery ---------------------------------------------------------------------------------
    def deadline(self, worker: int) -> float | None:
        """When the chunk at the head of ``worker``'s queue is overdue (None: no timeout)."""
        state = self.workers[worker]
        if self.timeout is None or not state.queue or state.running != state.queue[0]:
            return None  # a worker still starting up or between chunks has no deadline
        task = self.inflight[state.running]
        rows = task.end - task.begin
        per_row = self.scheduler.seconds_per_row
        # A chunk may take its expected time plus one timeout; a single row exactly one timeout.
        allowance = self.timeout + 2 * rows * per_row if per_row > 0 and rows > 1 else self.timeout * rows
        return state.started + allowance

    def wait_ms(self) -> int:
        deadlines = [d for d in map(self.deadline, self.workers) if d is not None]
        if self.max_memory is not None:
            deadlines.append(self.last_memory_check + MEMORY_CHECK_SECONDS)
        if not deadlines:
            return -1
        return max(0, int((min(deadlines) - time.monotonic()) * 1000) + 1)

    def check_retire(self, worker: int) -> None:
        """After a result: retires ``worker`` if it passed max_worker_memory, and replaces a retiring
        worker once it holds no chunk."""
        state = self.workers.get(worker)
        if state is None:
            return
        if not state.retiring:
            used = worker_memory(self.pids[worker])
            if used is None:
                return
            state.baseline = used
            if used <= self.max_memory:
                return
            state.retiring = True
            self.recycled += 1
            if state.queue and not self.stopping:
                # Its replacement starts up while it finishes the chunks it holds.
                self.replace_worker(extra=sum(s.retiring for s in self.workers.values()))
        if not state.queue:
            self.pool.supervisor.terminate(worker, RETIRE_GRACE_MS)
            del self.workers[worker]
            if not self.stopping:
                self.replace_worker()

    def check_memory(self) -> None:
        """Every MEMORY_CHECK_SECONDS: stops each busy worker past max_worker_memory.

        The chunk it runs is blamed (a death: bisection, retries) when it grew the worker by more
        than half the limit since its last result (a fresh worker: by more than half in all).
        Otherwise the worker's earlier chunks filled it (a leak): the worker is stopped and the
        chunk re-queued as it is, at most ``MAX_SPARED_OVERRUNS`` times (then it is blamed)."""
        now = time.monotonic()
        if now - self.last_memory_check < MEMORY_CHECK_SECONDS:
            return
        self.last_memory_check = now
        self.handle_ready()  # results already sent count as between chunks
        for worker, state in list(self.workers.items()):
            if worker not in self.workers or not state.queue:
                continue  # gone meanwhile; idle workers are checked when they return a result
            used = worker_memory(self.pids[worker])
            if used is None or used <= self.max_memory:
                continue
            head = self.inflight[state.queue[0]]
            spared = (head.begin, head.end)
            grown = used - state.baseline  # what this chunk (and what followed the last result) added
            blameless = grown <= self.max_memory // 2 and self.spared[spared] < MAX_SPARED_OVERRUNS
            if blameless:
                self.spared[spared] += 1
            status = self.pool.supervisor.terminate(worker, 0)
            self.worker_exited(worker, status, over_memory=used, blameless=blameless)

    def enforce_deadlines(self) -> None:
        self.handle_ready()  # a result that arrived in time is no overrun
        now = time.monotonic()
        for worker in list(self.workers):
            deadline = self.deadline(worker)
            if deadline is not None and now >= deadline:
                status = self.pool.supervisor.terminate(worker, TIMEOUT_GRACE_MS)
                self.worker_exited(worker, status, timed_out=True)

    def rows_started(self, result_offset: int) -> np.ndarray:
        """The progress slot of the task whose result area starts at ``result_offset``."""
        return np.frombuffer(
            self.pool.memory, dtype=np.int64, count=1, offset=result_offset - _protocol.PROGRESS_BYTES
        )

    def worker_exited(
        self, worker, status, *, timed_out: bool = False, over_memory: int | None = None, blameless=False
    ) -> None:
        exit_code, signal_number, text = status
        state = self.workers.pop(worker, WorkerState())
        pid = self.pids.get(worker)
        lost = [self.inflight.pop(chunk_id) for chunk_id in state.queue]
        started = int(self.rows_started(lost[0].result_offset)[0]) if lost else 0
        for task in lost:
            self.pool.arena.release(task.block)
        if not state.loaded and not blameless:
            self.died_loading(pid, exit_code, signal_number, text, over_memory)
        if not self.stopping:
            self.replace_worker()
        if not lost:
            return
        if blameless or state.running != state.queue[0]:
            # It had not started the chunk at the head of its queue: none of its chunks is suspect.
            self.pending.extendleft((t.begin, t.end, t.deaths) for t in reversed(lost))
            return
        suspect, innocent = lost[0], lost[1:]
        self.pending.extendleft((t.begin, t.end, t.deaths) for t in reversed(innocent))
        deaths = suspect.deaths + 1
        rows = suspect.end - suspect.begin
        if rows > 1 and self.spec.mode == "rows" and 1 <= started <= rows:
            # The progress slot names the running row: only it is suspect; the rows before it ran
            # fine (their results died with the worker) and the rows after it never started.
            poison = suspect.begin + started - 1
            ranges = [(suspect.begin, poison, suspect.deaths), (poison, poison + 1, deaths)]
            ranges.append((poison + 1, suspect.end, suspect.deaths))
            self.pending.extendleft(reversed([r for r in ranges if r[1] > r[0]]))
        elif rows > 1 and self.spec.mode == "rows":
            middle = (suspect.begin + suspect.end) // 2  # bisect towards the poison row
            self.pending.extendleft([(middle, suspect.end, deaths), (suspect.begin, middle, deaths)])
        elif deaths <= self.retries and not timed_out:
            self.pending.appendleft((suspect.begin, suspect.end, deaths))
        else:
            self.poisoned(suspect, pid, exit_code, signal_number, text, timed_out, over_memory)

    def died_loading(self, pid, exit_code, signal_number, text, over_memory) -> None:
        """A worker died before it started any chunk of this job, i.e. while loading the job (or
        waiting for its first chunk). Fails the job when that happened more than ``retries`` times
        in a row: the function or its arguments then kill every worker that unpickles them."""
        self.load_deaths += 1
        if self.load_deaths <= self.retries:
            return
        cause = f"{text}" if over_memory is None else f"{over_memory} bytes resident, {text}"
        limit = "" if over_memory is None else f" (past max_worker_memory={self.max_memory} bytes)"
        raise WorkerLost(
            f"the function cannot be loaded in a worker: {self.load_deaths} worker(s) in a row died "
            f"before running any row{limit}, while unpickling the function or its arguments "
            f"(last: pid {pid}, {cause})",
            exit_code=None if signal_number else exit_code,
            signal=signal_number or None,
            pid=pid,
        )

    def poisoned(self, task, pid, exit_code, signal_number, text, timed_out, over_memory=None) -> None:
        """``task``'s rows kill their worker every time: fail the job or record the failure."""
        index = self.table.frame.index
        first, last = task.begin, task.end - 1
        where = f"row {index[first]!r}" if first == last else f"rows {index[first]!r} to {index[last]!r}"
        if timed_out:
            error = RowTimeout(
                f"{where} ran longer than the timeout of {self.timeout} s per row; "
                f"its worker (pid {pid}) was stopped ({text})"
            )
        else:
            cause = text
            if over_memory is not None:
                cause = (
                    f"stopped at {over_memory} bytes resident, past max_worker_memory={self.max_memory} "
                    f"bytes: {text}"
                )
            error = WorkerLost(
                f"{where} (position {first}{'' if first == last else f'..{last}'}) killed its worker "
                f"(pid {pid}, {cause}) {task.deaths + 1} time(s)",
                exit_code=None if signal_number else exit_code,
                signal=signal_number or None,
                pid=pid,
                rows=list(index[first : last + 1]),
            )
        if self.spec.errors == "raise":
            raise error
        kind = type(error)
        failure = (0, f"rowpool.{kind.__name__}", str(error), "", pickle.dumps(kind))
        values = [None] * (task.end - task.begin)
        failures = [(pos,) + failure[1:] for pos in range(task.end - task.begin)]
        if self.spec.mode == "batches":
            values, failures = [None], [failure]
        self.outcomes[task.begin] = (task.end, (_protocol.ResultKind.OBJECT, values, True, failures))
        if self.progress is not None:
            self.progress.update(task.end - task.begin)
