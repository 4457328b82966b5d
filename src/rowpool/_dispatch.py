"""One job's run through a Pool: the parent's event loop.

    Source ──chunk_parts──► arena block ──TASK──► worker ──RESULT──► Collector ──row order──► Sink
      ▲                                                    │
    Scheduler ◄──record(rows, seconds)─────────────────────┘

Each worker holds at most ``PREFETCH`` chunks, so it never waits for the next one; the arena bounds
the bytes in flight (dispatch pauses while it is full). The wait sleeps in the C++ Supervisor with
the GIL released and wakes on a result, on a worker's death, on a chunk's deadline, or on Ctrl-C.

Until the first worker of a cold pool starts, the calling process runs rows too (``bridge_piece``).

A row job's chunks carry only the columns its rows read, once workers reported them; a row
reading a column its chunk lacks asks for it (FETCH), answered at once (see ``_projection``).

What happens to the chunks of a worker that ends is decided by the table in ``_recovery``; the
time and memory limits that end workers are in ``_watch`` (policy) and ``_limits`` (enforcement).
The Dispatcher drives the Pool only through its internal API (spawn, retire, send, wait,
worker_ids).
"""

from __future__ import annotations

import contextlib
import pickle
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import _core, _protocol, _task_block
from ._limits import Limits
from ._outcomes import Outcomes
from ._projection import ChunkColumns, ColumnReads
from ._recovery import KILL_SIGNALS, DeathCount, Ending, Event, Range, poison_error, recover, state_of
from ._results import ChunkResults
from ._sink import Collector
from ._source import Source
from ._spec import JobSpec, Options
from ._task_block import RESULT_BYTES_PER_ROW, BlockPlan, Task
from ._watch import MemoryWatch
from .errors import BudgetExceeded, EngineError, QueueClosed

if TYPE_CHECKING:
    from ._local import LocalRun

PREFETCH = 2
TARGET_CHUNK_SECONDS = 0.25
# A chunk's block at most (its columns as sent, projected, and its result area): the arena pages a
# job touches then stay the same from 10^5 rows on, where the time target alone grows chunks to
# tens of MB (bench/scaling.py); 4 MB is still milliseconds of rows, far above a chunk's fixed cost.
MAX_CHUNK_BYTES = 4 << 20


@dataclass
class WorkerState:
    pid: int | None
    queue: deque = field(default_factory=deque)  # chunk ids in the order the worker runs them
    running: int | None = None  # the chunk the worker reported it started
    started: float = 0.0  # when it started
    loaded: bool = False  # it started a chunk of this job, so it loaded the job
    retiring: bool = False  # past max_worker_memory between chunks: no new chunks, then replaced
    baseline: int = 0  # its memory at its last result (with max_worker_memory)


class Dispatcher(Limits):
    """Runs one job: feeds chunks of ``source`` to the pool's workers and hands their results to
    ``collector``."""

    def __init__(
        self,
        pool,
        source: Source,
        spec: JobSpec,
        options: Options,
        collector: Collector,
        payload: bytes,
        *,
        first_row: int = 0,
        read: ColumnReads | None = None,
        bridge: LocalRun | None = None,
    ):
        """``first_row``: rows before it are already done (in the calling process, see _local);
        ``read``: the columns those rows read (None: no row ran there); ``bridge``: runs rows in
        the calling process while no worker has started the job (see ``bridge_piece``)."""
        self.pool = pool
        self.bridge = bridge
        self.first_row = first_row
        self.first_started: float | None = None  # when a worker started the job's first chunk
        self.source = source
        self.can_read = getattr(source, "can_read", None)  # optional, see _source
        self.chunk_end = getattr(source, "chunk_end", None)  # optional, see _source
        self.spec = spec
        self.payload = payload
        fixed_rows = self.fixed_rows = options.chunk_rows or 0
        self.retries = options.retries
        self.timeout = options.timeout
        limit = pool.max_worker_memory if options.max_worker_memory is None else options.max_worker_memory
        self.memory_watch = MemoryWatch(limit)
        self.deaths = DeathCount(self.retries, limit)
        self.inflight: dict[int, Task] = {}
        self.workers: dict[int, WorkerState] = {}
        self.pending: deque[Range] = deque()
        self.outcomes = Outcomes(spec.errors, collector)
        self.job_id = 0
        self.chunk_ids = 0
        self.log_bytes_per_row = 0.0  # result log bytes per row, as measured (str/object results)
        lazy_rows = spec.mode == "rows" and spec.row_type == "row"
        self.columns = ChunkColumns(spec.schema.layout, enabled=lazy_rows, read=read)
        self.chunk_budget = pool.arena.capacity // (PREFETCH * pool.workers + 1)
        self.scheduler = _core.Scheduler(
            source.rows - first_row,
            pool.workers,
            fixed_rows=fixed_rows,
            max_rows=self.max_chunk_rows(),
            target_seconds=TARGET_CHUNK_SECONDS,
        )

    def max_chunk_rows(self) -> int:
        """The most rows whose chunk, as it travels now (projected: only the columns rows read),
        fits a worker's share of the arena."""
        row_bytes = self.source.estimated_row_bytes() * self.columns.byte_share()
        return max(1, int(self.chunk_budget // (row_bytes + RESULT_BYTES_PER_ROW)))

    def run(self) -> None:
        self.job_id = self.pool.start_job(self.payload)
        self.workers = {w: WorkerState(self.pool.pid(w)) for w in self.pool.worker_ids()}
        while True:
            self.dispatch()
            if not self.inflight:
                break
            if self.bridge is not None and self.first_started is None and self.bridge_piece():
                self.handle_ready()
            elif (event := self.pool.wait(self.wait_ms())) is None:
                self.enforce_deadlines()
            else:
                self.handle(event)
            if self.memory_watch.due():
                self.check_memory()
        self.outcomes.raise_poison()
        if self.rows_left():
            raise EngineError("rowpool stopped before every row was dispatched (no live worker)")

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
        """The next rows to run, cut where the source says (optional ``chunk_end``, see _source)."""
        rows = self.queued_or_next()
        if rows is not None and self.chunk_end is not None and (end := self.chunk_end(*rows[:2])) < rows.end:
            self.pending.appendleft(rows._replace(begin=end))  # the rest comes next
            rows = rows._replace(end=end)
        return rows

    def queued_or_next(self) -> Range | None:
        """Re-queued ranges first, then the scheduler's next chunk; none after the earliest failure."""
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
            if self.inflight and self.can_read is not None and not self.can_read(rows.begin, rows.end):
                self.pending.appendleft(rows)  # the source holds all it may: wait for a result
                return
            parts, projection = self.columns.parts(self.source, rows.begin, rows.end)
            result_rows = self.result_rows(rows)
            plan = BlockPlan.of(parts, result_rows, self.log_bytes_per_row)
            limit = min(self.pool.arena.capacity // 2, MAX_CHUNK_BYTES)
            if plan.total > limit and rows.end - rows.begin > 1 and not self.fixed_rows:
                # Too big for the budget or past MAX_CHUNK_BYTES: cut into pieces that fit.
                pieces = min(plan.total // limit + 1, rows.end - rows.begin)
                cuts = [rows.begin + (rows.end - rows.begin) * i // pieces for i in range(pieces + 1)]
                cut = [rows._replace(begin=begin, end=end) for begin, end in zip(cuts, cuts[1:])]
                self.pending.extendleft(reversed(cut))
                continue
            block = self.allocate(rows, plan.total)
            if block is None:  # arena full: wait for a result to free space
                self.pending.appendleft(rows)
                return
            # A re-run (after a death or a memory overrun) goes to the worker holding the least
            # memory, a fresh replacement when there is one (baseline is 0 without a memory limit).
            worker = min(
                idle, key=lambda w: (self.workers[w].baseline if rerun else 0, len(self.workers[w].queue))
            )
            record = _task_block.write(self.pool.memory, block, plan, parts, rows, result_rows, projection)
            self.columns.sent(plan.chunk_bytes)
            result_offset = block + plan.chunk_bytes + _protocol.PROGRESS_BYTES
            self.send_task(worker, Task(worker, rows, block, result_offset, result_rows), record)

    def allocate(self, rows: Range, total: int) -> int | None:
        """An arena block of ``total`` bytes for ``rows`` (None: the arena is full for now)."""
        try:
            return self.pool.arena.allocate(total)
        except BudgetExceeded as exc:
            explain = getattr(self.source, "too_big", None)  # optional, see _source
            capacity = self.pool.arena.capacity
            raise BudgetExceeded(
                explain(rows.begin, rows.end, total, capacity)
                if explain is not None
                else f"rows {rows.begin}..{rows.end - 1} need {total} bytes of shared memory, more than "
                f"the budget of {capacity} bytes; raise memory_budget or lower chunk_rows"
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

    def bridge_piece(self) -> bool:
        """While the workers of a cold pool start (no STARTED yet), the calling process runs the
        next rows itself, in short pieces (``LocalRun.bridge_end``), and looks for the workers'
        messages after each: cores that would wait for the workers' imports run rows instead, and
        the first worker to start waits at most one piece for its next chunk. False (and no more
        pieces) when no rows are left to hand out or the next piece would be too long."""
        assert self.bridge is not None
        rows = self.next_range()
        end = None if rows is None else self.bridge.bridge_end(rows.begin, rows.end)
        if rows is None or end is None:
            if rows is not None:
                self.pending.appendleft(rows)
            self.bridge = None
            return False
        if end < rows.end:
            self.pending.appendleft(rows._replace(begin=end))
        results, seconds = self.bridge.run_range(rows.begin, end)
        self.scheduler.record(end - rows.begin, seconds)
        self.outcomes.add(rows.begin, end, results)
        if self.bridge.reads is not None and self.columns.learned(self.bridge.reads):
            self.scheduler.max_rows = self.max_chunk_rows()
        return True

    # -- events -----------------------------------------------------------------------------------
    def handle(self, event) -> None:
        what, worker, detail = event
        if what == "exited":
            self.worker_ended(worker, detail, Event.CRASHED)
            return
        header = _protocol.Header(*detail)
        kind, flags, tag = header.kind, header.flags, header.tag
        try:
            payload = self.pool.receive_payload(worker, header.payload_bytes)
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
        elif kind == _protocol.FETCH:
            self.send_columns(worker, tag, payload)
        elif kind == _protocol.RESULT:
            if self.columns.reported(flags, payload):
                self.scheduler.max_rows = self.max_chunk_rows()
            self.result(tag, flags, header.arg1)
            if self.memory_watch.limit is not None:
                self.check_retire(worker)
        elif kind == _protocol.JOB_FAILED:
            failure: _protocol.JobFailure = pickle.loads(payload)
            raise failure.error(flags)

    def send_columns(self, worker: int, chunk_id: int, request: bytes) -> None:
        """A row of chunk ``chunk_id`` reads columns its chunk lacks: they go to its worker now."""
        task = self.inflight.get(chunk_id)
        if task is None or task.worker != worker:
            return  # the worker was ended since it asked
        reply = self.columns.fetched(self.source, task.rows.begin, task.rows.end, request)
        with contextlib.suppress(QueueClosed):  # it died: its exit event comes next
            self.pool.send(worker, _protocol.COLUMNS, chunk_id, reply)

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
        results, per_row = _task_block.read(self.pool.memory, task)
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

    # -- recovery ---------------------------------------------------------------------------------
    def worker_ended(
        self, worker: int, status: tuple[int, int, str], event: Event, *, over_memory: int | None = None
    ) -> None:
        """Recovers the chunks ``worker`` held after it ended: keeps the rows it finished, then
        follows the table in ``_recovery`` for the rest."""
        state = self.workers.pop(worker, WorkerState(None))
        exit_code, signal, text = status
        ending = Ending(state.pid, exit_code, signal, text, over_memory)
        lost = [self.inflight.pop(chunk_id) for chunk_id in state.queue]
        head_started = bool(lost) and state.running == state.queue[0]
        held = [task.rows for task in lost]
        started = finished = 0
        if head_started:
            head = lost.pop(0)
            started = int(_task_block.rows_started(self.pool.memory, head.result_offset)[0])
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
