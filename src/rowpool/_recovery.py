"""The recovery policy: what becomes of the chunks a worker held when it ends, as a table.

A worker runs its chunks in order, so when it ends only the chunk at the head of its queue (the one
it reported STARTED for) is suspect; the chunks behind it are re-queued as they are. The rows of the
head chunk that finished are kept (their results sit in the arena, see ``_results``) and never run
again; the rest of the chunk is what the table below decides about. The worker's progress slot (an
int64 in the arena that it updates before each row) tells whether a row was running: the first
unfinished one. ``Range.deaths`` counts the deaths of workers while a range (or a range containing
it) ran.

Events (how the worker ended):

- CRASHED: it exited or was killed on its own (SIGKILL, OOM killer, segfault, ``os._exit``);
- OVER_MEMORY: the parent stopped it mid-chunk past ``max_worker_memory``, the chunk having grown it
  by more than half the limit;
- TIMED_OUT: the parent stopped it past its chunk's deadline (``timeout``);
- LEAKED: the parent stopped it past ``max_worker_memory``, but its earlier chunks filled it (the
  chunk grew it by no more than half the limit, at most ``MAX_SPARED_OVERRUNS`` times per range).
- KILLED: it was killed from outside (SIGKILL or SIGTERM: an OOM killer during a burst, a user)
  while no row was running: starting up, loading the job, decoding a chunk or between rows. That is
  no evidence against a row or the function, as long as it does not last: when such deaths go on
  for ``KILL_PATIENCE_SECONDS`` with no chunk finishing meanwhile (and more than ``retries`` of
  them), the job fails (the function may kill the workers that unpickle it, or a chunk the workers
  that decode it).

States (what it held; "rows" are rows of ``apply``, a ``map_batches`` chunk is one unit):

- NOTHING: it held no chunk;
- NOT_STARTED: it had not started the chunk at the head of its queue;
- BETWEEN_ROWS: it had finished some rows of the head chunk and not begun the next one;
- ROW_KNOWN: it ran a chunk of several rows and the progress slot names the running row;
- ROW_UNKNOWN: it ran a chunk of several rows and died before the first one began;
- RETRIES_LEFT: it ran a single row (or a batch) that killed at most ``retries`` workers;
- NO_RETRIES_LEFT: it ran a single row (or a batch) that killed more than ``retries`` workers.

=============  =======  ===========  ============  ============  ===========  ============  ===============
event          NOTHING  NOT_STARTED  BETWEEN_ROWS  ROW_KNOWN     ROW_UNKNOWN  RETRIES_LEFT  NO_RETRIES_LEFT
=============  =======  ===========  ============  ============  ===========  ============  ===============
CRASHED        -        REQUEUE      REQUEUE       SPLIT_AT_ROW  BISECT       RETRY         POISON
OVER_MEMORY    -        REQUEUE      REQUEUE       SPLIT_AT_ROW  BISECT       RETRY         POISON
TIMED_OUT      -        REQUEUE      REQUEUE       SPLIT_AT_ROW  BISECT       POISON        POISON
LEAKED         -        REQUEUE      REQUEUE       REQUEUE       REQUEUE      REQUEUE       REQUEUE
KILLED         -        REQUEUE      REQUEUE       REQUEUE       REQUEUE      REQUEUE       REQUEUE
=============  =======  ===========  ============  ============  ===========  ============  ===============

Actions on the head chunk (the chunks behind it are always re-queued as they are):

- REQUEUE: every chunk goes back as it was (no death counted);
- SPLIT_AT_ROW: the running row alone is suspect (one more death); the rows after it never ran
  (the rows before it finished: their results are kept);
- BISECT: both halves are suspect (one more death each), towards the poison row;
- RETRY: the chunk runs again (one more death);
- POISON: the job fails with WorkerLost / RowTimeout (``errors="raise"``), or the rows become
  failure records (``"coerce"``/``"collect"``).

Besides the table: every ended worker is replaced (while rows remain to run), and a worker that
ends before it started any chunk of the job died loading it (unpickling the function or its
arguments). More than ``retries`` such deaths in a row fail the job: the function cannot be loaded.
LEAKED and KILLED workers are not counted as loading deaths (KILLED ones have their own patience).
"""

from __future__ import annotations

import enum
import signal
import time
from typing import NamedTuple

from ._exception_types import describe_type
from ._results import ChunkResults
from .errors import RowTimeout, WorkerLost


class Event(enum.Enum):
    CRASHED = "crashed"
    OVER_MEMORY = "over memory"
    TIMED_OUT = "timed out"
    LEAKED = "leaked"
    KILLED = "killed"


class State(enum.Enum):
    NOTHING = "nothing"
    NOT_STARTED = "not started"
    BETWEEN_ROWS = "between rows"
    ROW_KNOWN = "row known"
    ROW_UNKNOWN = "row unknown"
    RETRIES_LEFT = "retries left"
    NO_RETRIES_LEFT = "no retries left"


class Action(enum.Enum):
    NONE = "none"
    REQUEUE = "requeue"
    SPLIT_AT_ROW = "split at row"
    BISECT = "bisect"
    RETRY = "retry"
    POISON = "poison"


def _row(*actions: Action) -> dict[State, Action]:
    return dict(zip(State, actions))


_A = Action
_SPARE = (_A.NONE, _A.REQUEUE, _A.REQUEUE, _A.REQUEUE, _A.REQUEUE, _A.REQUEUE, _A.REQUEUE)
TABLE: dict[Event, dict[State, Action]] = {
    Event.CRASHED: _row(_A.NONE, _A.REQUEUE, _A.REQUEUE, _A.SPLIT_AT_ROW, _A.BISECT, _A.RETRY, _A.POISON),
    Event.OVER_MEMORY: _row(_A.NONE, _A.REQUEUE, _A.REQUEUE, _A.SPLIT_AT_ROW, _A.BISECT, _A.RETRY, _A.POISON),
    Event.TIMED_OUT: _row(_A.NONE, _A.REQUEUE, _A.REQUEUE, _A.SPLIT_AT_ROW, _A.BISECT, _A.POISON, _A.POISON),
    Event.LEAKED: _row(*_SPARE),
    Event.KILLED: _row(*_SPARE),
}

# Signals another process sends (the OOM killer, a user); a worker that dies of them while no row
# runs is KILLED, not CRASHED. A crash of its own (SIGSEGV, SIGABRT, ...) stays evidence.
KILL_SIGNALS = frozenset({signal.SIGKILL, signal.SIGTERM})
KILL_PATIENCE_SECONDS = 5.0  # how long KILLED deaths may go on with no chunk finishing


class Range(NamedTuple):
    """Rows [begin, end) waiting to run, with the deaths of workers while they ran."""

    begin: int
    end: int
    deaths: int = 0


class Recovery(NamedTuple):
    """What to do after a worker ended: ``requeue`` runs first (in this order), ``poisoned`` (when
    not None) is the range that kills workers every time."""

    action: Action
    requeue: list[Range]
    poisoned: Range | None = None


def state_of(
    held: list[Range],
    head_started: bool,
    rows_started: int,
    *,
    rows_mode: bool,
    retries: int,
    finished: int = 0,
):
    """The table's state of a worker that ended holding ``held`` (head first; its finished rows
    already taken off the head, ``finished`` of them, and ``rows_started`` counted from there)."""
    if not held:
        return State.NOTHING
    if not head_started:
        return State.NOT_STARTED
    if finished and not rows_started:
        return State.BETWEEN_ROWS
    head = held[0]
    rows = head.end - head.begin
    if rows > 1 and rows_mode:
        return State.ROW_KNOWN if 1 <= rows_started <= rows else State.ROW_UNKNOWN
    return State.RETRIES_LEFT if head.deaths + 1 <= retries else State.NO_RETRIES_LEFT


def recover(event: Event, state: State, held: list[Range], rows_started: int) -> Recovery:
    """The table's action for ``event`` in ``state``, applied to the ranges the worker held."""
    action = TABLE[event][state]
    if action in (Action.NONE, Action.REQUEUE):
        return Recovery(action, list(held))
    head, behind = held[0], held[1:]
    deaths = head.deaths + 1
    if action is Action.SPLIT_AT_ROW:
        row = head.begin + rows_started - 1
        pieces = [Range(head.begin, row, head.deaths), Range(row, row + 1, deaths)]
        pieces.append(Range(row + 1, head.end, head.deaths))
        return Recovery(action, [r for r in pieces if r.end > r.begin] + behind)
    if action is Action.BISECT:
        middle = (head.begin + head.end) // 2
        return Recovery(action, [Range(head.begin, middle, deaths), Range(middle, head.end, deaths)] + behind)
    if action is Action.RETRY:
        return Recovery(action, [Range(head.begin, head.end, deaths)] + behind)
    return Recovery(action, behind, head)


class Ending(NamedTuple):
    """How a worker process ended: its pid, exit code, signal number (0: none) and a description;
    ``over_memory`` is its resident memory when the parent stopped it past max_worker_memory."""

    pid: int | None
    exit_code: int
    signal: int
    text: str
    over_memory: int | None = None


class DeathCount:
    """Counts the deaths of workers that ran no row, and fails the job when they go on: more than
    ``retries`` loading deaths in a row (the function cannot be loaded), or KILLED deaths lasting
    ``KILL_PATIENCE_SECONDS`` (more than ``retries`` of them) with no chunk finishing."""

    def __init__(self, retries: int, max_memory: int | None):
        self.retries = retries
        self.max_memory = max_memory
        self.load_deaths = 0  # consecutive deaths of workers that had not loaded the job yet
        self.kills = 0  # consecutive KILLED workers, reset when a chunk finishes
        self.kills_since = 0.0  # when the first of them died
        self.loaded = False  # some worker loaded the job

    def worker_loaded(self) -> None:
        self.loaded = True
        self.load_deaths = 0

    def chunk_finished(self) -> None:
        self.kills = 0

    def count(self, ending: Ending, event: Event, *, worker_loaded: bool) -> None:
        """Counts a worker's death; raises WorkerLost when the job must fail."""
        if event is Event.KILLED:
            now = time.monotonic()
            if not self.kills:
                self.kills_since = now
            self.kills += 1
            if self.kills > self.retries and now - self.kills_since >= KILL_PATIENCE_SECONDS:
                raise kills_error(ending, self.kills, now - self.kills_since, loaded=self.loaded)
        elif not worker_loaded and event is not Event.LEAKED:
            self.load_deaths += 1  # it died loading the job (or waiting for its first chunk)
            if self.load_deaths > self.retries:
                raise loading_error(ending, self.load_deaths, self.max_memory)


def loading_error(ending: Ending, load_deaths: int, max_memory: int | None) -> WorkerLost:
    """The job fails: ``load_deaths`` workers in a row died before running any row."""
    cause = ending.text
    if ending.over_memory is not None:
        cause = f"{ending.over_memory} bytes resident, {ending.text}"
    limit = "" if ending.over_memory is None else f" (past max_worker_memory={max_memory} bytes)"
    return WorkerLost(
        f"the function cannot be loaded in a worker: {load_deaths} worker(s) in a row died "
        f"before running any row{limit}, while unpickling the function or its arguments "
        f"(last: pid {ending.pid}, {cause})",
        exit_code=None if ending.signal else ending.exit_code,
        signal=ending.signal or None,
        pid=ending.pid,
    )


def kills_error(ending: Ending, kills: int, seconds: float, *, loaded: bool) -> WorkerLost:
    """The job fails: ``kills`` workers in a row were killed by a signal over ``seconds`` while no
    row ran and no chunk finished (``loaded``: some worker did load the job)."""
    where = "between rows or while decoding a chunk" if loaded else "while starting or unpickling"
    what = "" if loaded else "the function cannot be loaded in a worker: "
    return WorkerLost(
        f"{what}{kills} worker(s) in a row were killed ({ending.text}) {where}, over {seconds:.1f} s "
        f"in which no chunk finished (last: pid {ending.pid}); the function or its arguments may "
        "kill the worker, or another process (an OOM killer?) keeps ending workers",
        exit_code=None,
        signal=ending.signal or None,
        pid=ending.pid,
    )


def poison_error(
    poisoned: Range, ending: Ending, source, *, timed_out: bool, timeout, max_memory
) -> WorkerLost | RowTimeout:
    """The error of a range of ``source`` whose rows kill their worker every time."""
    first, last = poisoned.begin, poisoned.end - 1
    if first == last:
        where = f"row {source.label(first)!r}"
    else:
        where = f"rows {source.label(first)!r} to {source.label(last)!r}"
    if timed_out:
        return RowTimeout(
            f"{where} ran longer than the timeout of {timeout} s per row; "
            f"its worker (pid {ending.pid}) was stopped ({ending.text})"
        )
    cause = ending.text
    if ending.over_memory is not None:
        cause = (
            f"stopped at {ending.over_memory} bytes resident, past max_worker_memory={max_memory} "
            f"bytes, which counts the worker itself and what the function imports: {ending.text}"
        )
    return WorkerLost(
        f"{where} (position {first}{'' if first == last else f'..{last}'}) killed its worker "
        f"(pid {ending.pid}, {cause}) {poisoned.deaths + 1} time(s)",
        exit_code=None if ending.signal else ending.exit_code,
        signal=ending.signal or None,
        pid=ending.pid,
        rows=source.labels(first, last + 1),
    )


def failed_outcome(error: BaseException, rows: int) -> ChunkResults:
    """The outcome of a poisoned range of ``rows`` result rows (one for a batch) under
    ``errors="coerce"``/``"collect"``: every row failed with ``error``, its value None."""
    kind = type(error)
    return ChunkResults.failed(rows, (f"rowpool.{kind.__name__}", str(error), "", describe_type(kind)))
