"""One job's run through a Pool: the parent's event loop.

    source ──chunk_parts──► arena block ──TASK──► worker ──RESULT──► outcomes (by first row)
      ▲                                                    │
    Scheduler ◄──record(rows, seconds)─────────────────────┘

Each worker holds at most ``PREFETCH`` chunks, so it never waits for the next one; the arena bounds
the bytes in flight (dispatch pauses while it is full). The wait sleeps in the C++ Supervisor with
the GIL released and wakes on a result, on a worker's death, on a chunk's deadline, or on Ctrl-C.

What happens to the chunks of a worker that ends is decided by the table in ``_recovery``; the
time and memory limits that end workers are in ``_watch``. The Dispatcher drives the Pool only
through its internal API (spawn, retire, send, wait, worker_ids).
"""

from __future__ import annotations

import pickle
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from . import _codec, _core, _protocol
from ._outcomes import Outcomes
from ._recovery import KILL_SIGNALS, DeathCount, Ending, Event, Range, poison_error, recover, state_of
from ._results import ChunkResults, area_bytes, reset_area
from ._watch import RETIRE_GRACE_MS, TIMEOUT_GRACE_MS, MemoryWatch, deadline
from .errors import BudgetExceeded, EngineError, InitError, QueueClosed, SerializationError

PREFETCH = 2
TARGET_CHUNK_SECONDS = 0.25
RESULT_BYTES_PER_ROW = 9  # a result slot and its tag; str and object results also need log space
MIN_LOG_BYTES = 64 << 10  # log space of a result area before str or object results were measured
MAX_WAIT_SECONDS = 3600.0  # the longest single wait for events (deadlines further off are re-checked)


@dataclass
class Task:
    """A chunk in flight: its rows, the worker running it and its arena block."""

    worker: int
    rows: Range
    block: int
    result_offset: int
    spilled: list = field(default_factory=list)  # result log entries that came on the queue


@dataclass
class WorkerState:
    pid: int | None
    queue: deque = field(default_factory=deque)  # chunk ids in the order the worker runs them
    running: int | None = None  # the chunk the worker reported it started
    started: float = 0.0  # when it started
    loaded: bool = False  # it started a chunk of this job, so it loaded the job
    retiring: bool = False  # past max_worker_memory between chunks: no new chunks, then replaced
    baseline: int = 0  # its memory at its last result (with max_worker_memory)


class Dispatcher:
    """Runs one job: feeds chunks of ``source`` to the pool's workers and collects their outcomes."""

    def __init__(
        self,
        pool,
        source,
        spec,
        *,
        fixed_rows: int,
        progress,
        payload: bytes,
        retries: int = 2,
        timeout: float | None = None,
        max_worker_memory: int | None = None,
        first_row: int = 0,
    ):
        """``first_row``: rows before it are already done (in the calling process, see _local)."""
        self.pool = pool
        self.first_row = first_row
        self.first_started: float | None = None  # when a worker started the job's first chunk
        self.source = source
        self.spec = spec
        self.payload = payload
        self.progress = progress
        self.fixed_rows = fixed_rows
        self.retries = retries
        self.timeout = timeout
        self.memory_watch = MemoryWatch(max_worker_memory)
        self.deaths = DeathCount(retries, max_worker_memory)
        self.inflight: dict[int, Task] = {}
        self.workers: dict[int, WorkerState] = {}
        self.pending: deque[Range] = deque()
        self.outcomes = Outcomes(spec.errors, progress)
        self.job_id = 0
        self.chunk_ids = 0
        self.log_bytes_per_row = 0.0  # result log bytes per row, as measured (str/object results)
        per_chunk = pool.arena.capacity // (PREFETCH * pool.workers + 1)
        self.scheduler = _core.Scheduler(
            source.rows - first_row,
            pool.workers,
            fixed_rows=fixed_rows,
            max_rows=max(1, per_chunk // (source.estimated_row_bytes() + RESULT_BYTES_PER_ROW)),
            target_seconds=TARGET_CHUNK_SECONDS,
        )

    def run(self) -> dict:
        self.job_id = self.pool.start_job(self.payload)
        self.workers = {w: WorkerState(self.pool.pid(w)) for w in self.pool.worker_ids()}
        while True:
            self.dispatch()
            if not self.inflight:
                break
            event = self.pool.wait(self.wait_ms())
            if event is None:
                self.enforce_deadlines()
            else:
                self.handle(event)
            if self.memory_watch.due():
                self.check_memory()
        self.outcomes.raise_poison()
        if self.rows_left():
            raise EngineError("rowpool stopped before every row was dispatched (no live worker)")
        return self.outcomes.by_begin

    def stopping(self) -> bool:
        """A row failed (``errors="raise"``) and every row before it was dispatched: lost workers
        are not replaced."""
        return self.outcomes.first_failure is not None and not self.rows_left()

    def rows_left(self) -> bool:
        """Whether rows remain to be dispatched (up to the earliest failure, see ``_outcomes``)."""
        limit = self.outcomes.first_failure
        end = self.source.rows if limit is None else limit
        dispatched = self.first_row + self.scheduler.dispatched_rows
        return any(self.outcomes.clip(r) for r in self.pending) or dispatched < end

    def replace_workers(self, extra: int = 0) -> None:
        """Spawns replacements for lost workers (``extra``: for workers still retiring), and hands
        them the job."""
        for worker in self.pool.spawn(extra):
            self.workers[worker] = WorkerState(self.pool.pid(worker))
            try:
                self.pool.send(worker, _protocol.JOB, self.job_id, self.payload)
            except QueueClosed:
                pass  # it died at once: its exit event comes next and counts as a loading death

    # -- dispatch ---------------------------------------------------------------------------------
    def next_range(self) -> Range | None:
        """The next rows to run: re-queued ranges first; none after the earliest failure."""
        while self.pending:
            rows = self.outcomes.clip(self.pending.popleft())
            if rows is not None:
                return rows
        if not self.rows_left():
            return None
        chunk = self.scheduler.next()
        if chunk is None:
            return None
        return self.outcomes.clip(Range(self.first_row + chunk.begin, self.first_row + chunk.end))

    def idle_workers(self) -> list[int]:
        return [w for w, s in self.workers.items() if len(s.queue) < PREFETCH and not s.retiring]

    def dispatch(self) -> None:
        while idle := self.idle_workers():
            rerun = bool(self.pending)
            rows = self.next_range()
            if rows is None:
                return
            parts = self.source.chunk_parts(rows.begin, rows.end)
            size = _codec.packed_size(parts)
            result_rows = self.result_rows(rows)
            log_bytes = max(MIN_LOG_BYTES, int(1.25 * result_rows * self.log_bytes_per_row))
            result_capacity = area_bytes(result_rows, log_bytes)
            total = size + _protocol.PROGRESS_BYTES + result_capacity
            arena = self.pool.arena
            if total > arena.capacity // 2 and rows.end - rows.begin > 1 and not self.fixed_rows:
                middle = (rows.begin + rows.end) // 2  # a chunk too big for the budget: halve it
                self.pending.extendleft([rows._replace(begin=middle), rows._replace(end=middle)])
                continue
            block = self.allocate(rows, total)
            if block is None:  # arena full: wait for a result to free space
                self.pending.appendleft(rows)
                return
            # A re-run (after a death or a memory overrun) goes to the worker holding the least
            # memory, a fresh replacement when there is one (baseline is 0 without a memory limit).
            worker = min(
                idle, key=lambda w: (self.workers[w].baseline if rerun else 0, len(self.workers[w].queue))
            )
            _codec.pack(self.pool.memory, block, parts)
            result_offset = block + size + _protocol.PROGRESS_BYTES
            self.rows_started(result_offset)[0] = 0
            reset_area(self.pool.memory, result_offset, result_rows)
            record = _protocol.TASK_RECORD.pack(block, size, result_offset, result_capacity, *rows[:2])
            self.send_task(worker, Task(worker, rows, block, result_offset), record)

    def allocate(self, rows: Range, total: int) -> int | None:
        """An arena block of ``total`` bytes for ``rows`` (None: the arena is full for now)."""
        try:
            return self.pool.arena.allocate(total)
        except BudgetExceeded as exc:
            raise BudgetExceeded(
                f"rows {rows.begin}..{rows.end - 1} need {total} bytes of shared memory, more than the "
                f"budget of {self.pool.arena.capacity} bytes; raise memory_budget or lower chunk_rows"
            ) from exc

    def send_task(self, worker: int, task: Task, record: bytes) -> None:
        chunk_id = self.chunk_ids
        self.chunk_ids += 1
        self.inflight[chunk_id] = task
        self.workers[worker].queue.append(chunk_id)
        try:
            self.pool.send(worker, _protocol.TASK, chunk_id, record)
        except QueueClosed:  # it died before this task reached it
            # What it sent before dying (a result, STARTED) comes first: its death must blame
            # the chunk it was really running.
            self.handle_ready()
            if worker in self.workers:
                self.worker_ended(worker, self.pool.retire(worker, 0), Event.CRASHED)

    # -- events -----------------------------------------------------------------------------------
    def handle(self, event) -> None:
        what, worker, detail = event
        if what == "exited":
            self.worker_ended(worker, detail, Event.CRASHED)
            return
        kind, flags, tag, arg0, arg1, payload_bytes = detail
        try:
            payload = self.pool.receive_payload(worker, payload_bytes)
        except EngineError:
            return  # it died while sending: its exit comes next
        if kind == _protocol.SPILLED:
            self.inflight[tag].spilled.append(payload)
        elif kind == _protocol.STARTED:
            state = self.workers[worker]
            state.running, state.started = tag, time.monotonic()
            if self.first_started is None:
                self.first_started = state.started
            state.loaded = True
            self.deaths.worker_loaded()
        elif kind == _protocol.RESULT:
            self.result(tag, flags, arg1)
            if self.memory_watch.limit is not None:
                self.check_retire(worker)
        elif kind == _protocol.JOB_FAILED:
            what, type_name, message, traceback = pickle.loads(payload)
            kind = InitError if flags & _protocol.INIT_FAILED else SerializationError
            error = kind(f"{what}: {type_name}: {message}")
            error.worker_traceback = traceback
            if traceback and hasattr(error, "add_note"):
                error.add_note("Traceback in the worker process:\n" + traceback.rstrip())
            raise error

    def handle_ready(self) -> None:
        """Handles every event already waiting, without blocking (a worker's messages come before
        its death)."""
        for event in self.pool.ready_events():
            self.handle(event)

    def result_rows(self, rows: Range) -> int:
        """Rows of the result area of ``rows``: one per row, one per batch."""
        return rows.end - rows.begin if self.spec.mode == "rows" else 1

    def read_results(self, task: Task) -> ChunkResults:
        """What the worker wrote into ``task``'s result area (and spilled), then frees its block."""
        rows = self.result_rows(task.rows)
        memory = self.pool.memory
        results = ChunkResults.read(memory, task.result_offset, rows, task.spilled)
        log_bytes = int(np.frombuffer(memory, dtype=np.int64, count=1, offset=task.result_offset)[0])
        per_row = (log_bytes + sum(map(len, task.spilled))) / max(1, rows)
        self.log_bytes_per_row = max(per_row, 0.75 * self.log_bytes_per_row)
        self.pool.arena.release(task.block)
        return results

    def result(self, chunk_id, flags, compute_ns) -> None:
        task = self.inflight.pop(chunk_id)
        self.workers[task.worker].queue.remove(chunk_id)
        begin, end, _ = task.rows
        if not flags & _protocol.IMPORTED:
            self.scheduler.record(end - begin, compute_ns / 1e9)
        self.outcomes.add(begin, end, self.read_results(task))
        self.deaths.chunk_finished()

    def keep_finished(self, task: Task) -> int:
        """Keeps the results of the rows of ``task`` that finished before its worker ended (they
        never run again) and frees its block; returns how many rows finished."""
        results = self.read_results(task)
        finished = results.finished()
        begin, end, _ = task.rows
        if self.spec.mode == "batches":
            finished = end - begin if finished else 0
        if finished:
            self.outcomes.add(begin, begin + finished, results.head(finished))
        return finished

    # -- limits -----------------------------------------------------------------------------------
    def deadline(self, worker: int) -> float | None:
        """When the chunk at the head of ``worker``'s queue is overdue (None: no deadline)."""
        state = self.workers[worker]
        if not state.queue or state.running != state.queue[0]:
            return None  # a worker still starting up or between chunks has no deadline
        rows = self.inflight[state.running].rows
        count, cost = rows.end - rows.begin, self.scheduler
        return deadline(state.started, count, self.timeout, cost.seconds_per_row, cost.fixed_seconds)

    def wait_ms(self) -> int:
        deadlines = [d for d in map(self.deadline, self.workers) if d is not None]
        next_check = self.memory_watch.next_check()
        if next_check is not None:
            deadlines.append(next_check)
        if not deadlines:
            return -1
        # The engine waits at most an int of milliseconds: a deadline further off (a timeout of
        # inf, or of weeks) is looked at again after MAX_WAIT_SECONDS.
        seconds = min(min(deadlines) - time.monotonic(), MAX_WAIT_SECONDS)
        return max(0, int(seconds * 1000) + 1)

    def enforce_deadlines(self) -> None:
        self.handle_ready()  # a result that arrived in time is no overrun
        now = time.monotonic()
        for worker in list(self.workers):
            due = self.deadline(worker)
            if due is not None and now >= due:
                self.worker_ended(worker, self.pool.retire(worker, TIMEOUT_GRACE_MS), Event.TIMED_OUT)

    def check_retire(self, worker: int) -> None:
        """After a result: retires ``worker`` if it passed max_worker_memory, and replaces a retiring
        worker once it holds no chunk."""
        state = self.workers.get(worker)
        if state is None:
            return
        if not state.retiring:
            used = self.memory_watch.used(state.pid)
            if used is None:
                return
            state.baseline = used
            if not self.memory_watch.over(used):
                return
            state.retiring = True
            if state.queue and not self.stopping():
                # Its replacement starts up while it finishes the chunks it holds.
                self.replace_workers(extra=sum(s.retiring for s in self.workers.values()))
        if not state.queue:
            self.pool.retire(worker, RETIRE_GRACE_MS)
            del self.workers[worker]
            if not self.stopping():
                self.replace_workers()

    def check_memory(self) -> None:
        """Stops each busy worker past max_worker_memory (see ``_watch``)."""
        self.handle_ready()  # results already sent count as between chunks
        for worker, state in list(self.workers.items()):
            if worker not in self.workers or not state.queue:
                continue  # gone meanwhile; idle workers are checked when they return a result
            used = self.memory_watch.used(state.pid)
            if used is None or not self.memory_watch.over(used):
                continue
            head = self.inflight[state.queue[0]].rows
            event = self.memory_watch.verdict(used, state.baseline, head.begin, head.end)
            self.worker_ended(worker, self.pool.retire(worker, 0), event, over_memory=used)

    # -- recovery ---------------------------------------------------------------------------------
    def rows_started(self, result_offset: int) -> np.ndarray:
        """The progress slot of the task whose result area starts at ``result_offset``."""
        return np.frombuffer(
            self.pool.memory, dtype=np.int64, count=1, offset=result_offset - _protocol.PROGRESS_BYTES
        )

    def worker_ended(self, worker: int, status, event: Event, *, over_memory: int | None = None) -> None:
        """Recovers the chunks ``worker`` held after it ended: keeps the rows it finished, then
        follows the table in ``_recovery`` for the rest."""
        state = self.workers.pop(worker, WorkerState(None))
        ending = Ending(state.pid, *status, over_memory=over_memory)
        lost = [self.inflight.pop(chunk_id) for chunk_id in state.queue]
        head_started = bool(lost) and state.running == state.queue[0]
        held = [task.rows for task in lost]
        started = finished = 0
        if head_started:
            head = lost.pop(0)
            started = int(self.rows_started(head.result_offset)[0])
            finished = self.keep_finished(head)  # frees its block
            started = max(0, started - finished)  # 1: the first unfinished row was running
            held[0] = held[0]._replace(begin=held[0].begin + finished)
            if held[0].begin == held[0].end:  # it died after its last row, before reporting
                head_started, held = False, held[1:]
        for task in lost:
            self.pool.arena.release(task.block)
        if event is Event.CRASHED and ending.signal in KILL_SIGNALS and not started:
            event = Event.KILLED  # from outside while no row ran: no evidence against anything
        self.deaths.count(ending, event, worker_loaded=state.loaded)
        rows_mode = self.spec.mode == "rows"
        table_state = state_of(
            held, head_started, started, rows_mode=rows_mode, retries=self.retries, finished=finished
        )
        recovery = recover(event, table_state, held, started)
        self.pending.extendleft(reversed(recovery.requeue))
        if not self.stopping():
            self.replace_workers()
        if recovery.poisoned is not None:
            self.poisoned(recovery.poisoned, ending, timed_out=event is Event.TIMED_OUT)

    def poisoned(self, rows: Range, ending: Ending, *, timed_out: bool) -> None:
        """``rows`` kill their worker every time: fail the job or record the failure."""
        error = poison_error(
            rows,
            ending,
            self.source,
            timed_out=timed_out,
            timeout=self.timeout,
            max_memory=self.memory_watch.limit,
        )
        self.outcomes.add_poisoned(rows, error, self.result_rows(rows))
