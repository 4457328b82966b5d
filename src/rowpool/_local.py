"""Tiny jobs in the calling process.

Starting the default pool's workers (fresh interpreters) costs a fraction of a second, more on a
busy machine; handing a job to them once they are warm costs milliseconds. Each start, cold or
warm, is measured (``record_start``), and a job whose serial cost is below what recent starts of
its kind cost finishes sooner without them. The cost is measured, not guessed: the first rows run
here, in growing pieces, and after each the rows left are priced from what the pieces cost (rows
weighed where the source says so: a group by its rows). Once the workers would finish the rows
left sooner than this process, their start included (the rows left cost more here than a start
plus their share on the workers: ``in_process_budget``), or a piece alone would pass that budget,
the rows not run yet go to workers (whose start then also serves the calls after: the default
pool stays warm): every row still runs exactly once. The rows already run here do not count: a
remainder cheaper than that (the end of a job whose rows ran slower than projected) finishes
here. Past the budget the rows left are priced at the recent pieces' rate, so rows growing
costlier still go to workers. Rows are built from the same Chunk and by the
same C++ row loop as in a worker, so results, dtypes and failure records are the same.

While a cold default pool's workers start (their imports take a fraction of a second), this
process goes on running rows in short pieces (``LocalRun.bridge_end``), taken after the chunks
already handed to the workers, until the first worker starts its first chunk
(``Dispatcher.bridge_piece``): a start costs the job that much less of its wall. Not with warm
workers (they take chunks at once), nor for a file's rows (read in order, see ``can_bridge``).

Nothing runs here with ``pool=`` (the caller chose warm workers), ``timeout=`` or
``max_worker_memory=`` (only a worker can be stopped), or ``in_process=False``. A row that crashes
the interpreter (segfault, ``os._exit``) takes the calling process with it; ``in_process=False``
keeps every row in a worker.
"""

from __future__ import annotations

import bisect
import math
import os
import statistics
import time
from collections import deque

from ._pandas.rows import JobContext, run_rows
from ._projection import ColumnReads
from ._results import ChunkResults, run_here
from ._sink import Collector
from ._source import Source
from ._spec import JobSpec, Options
from ._worker import _describe, _describe_pickled, _encode, call_batch
from .errors import InitError

START_SECONDS = 0.2  # what starting the default pool's workers costs, until a start was measured
WARM_START_SECONDS = 0.005  # what a job's first chunk on its warm workers costs, until measured
MEASURED_STARTS = 5  # the budget is the median of this many recent starts
PROBE_SECONDS = 0.01  # rows run here before their projected cost can send the rest to workers
PIECE_SECONDS = 0.02  # then pieces this long: the projection is checked again after each
BRIDGE_SECONDS = 0.08  # while workers start, no piece (a group) projected to cost more runs here
MAX_GROWTH = 4  # a piece is at most this many times longer (in rows) than the one before
RECENT_PIECES = 3  # past the budget, the rows left are priced at the median rate of these pieces


# Seconds from asking for the default pool to its first worker's first row: cold (workers started)
# and warm (workers already running).
_starts: list[float] = []
_warm_starts: list[float] = []


def record_start(seconds: float, *, warm: bool = False) -> None:
    """Records what starting the default pool's workers (``warm``: handing a job to its running
    workers) cost (see ``start_seconds``)."""
    starts = _warm_starts if warm else _starts
    starts.append(seconds)
    del starts[:-MEASURED_STARTS]


def contention() -> float:
    """How much longer than on an idle machine things take now: the 1-minute load average per
    core, at least 1 (the rows measured here take that much longer, so would a start)."""
    try:
        return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    except OSError:
        return 1.0


def start_seconds(warm: bool = False) -> float:
    """What starting the default pool's workers (``warm``: handing a job to its running workers)
    costs in this process: the median of the recent such starts, else the first guess
    ``START_SECONDS`` (``WARM_START_SECONDS``, for an idle machine) times ``contention()``."""
    starts = _warm_starts if warm else _starts
    if not starts:
        return (WARM_START_SECONDS if warm else START_SECONDS) * contention()
    return sorted(starts)[len(starts) // 2]


def in_process_budget(options: Options, *, pool_given: bool, workers: int, warm: bool = False) -> float:
    """Seconds of serial work the rows left may cost in the calling process before ``workers``
    workers would finish them sooner, their start included (0: none, inf: all): a start plus the
    rows' share on the workers, ``start * workers / (workers - 1)`` (a start, for one worker);
    ``warm``: the default pool's workers already run."""
    if options.in_process is not None:
        return math.inf if options.in_process else 0.0
    if pool_given or options.timeout is not None or options.max_worker_memory is not None:
        return 0.0
    return start_seconds(warm) * (workers / (workers - 1) if workers > 1 else 1.0)


class Weights:
    """What the rows of a source cost relative to each other: one each, unless the source has
    ``weight_bounds`` (optional, see ``_source``: a group weighs its rows)."""

    def __init__(self, source: Source):
        self.bounds = getattr(source, "weight_bounds", None)

    def of(self, begin: int, end: int) -> int:
        """The weight of rows [begin, end)."""
        return end - begin if self.bounds is None else int(self.bounds[end] - self.bounds[begin])

    def rows_within(self, begin: int, weight: float) -> int:
        """How many rows from ``begin`` on weigh at most ``weight`` together."""
        if self.bounds is None:
            return int(weight)
        return bisect.bisect_right(self.bounds, self.bounds[begin] + weight) - 1 - begin


class LocalRun:
    """Runs the first rows of a job in this process while its projected serial cost stays within
    ``budget`` seconds, their results (in the workers' format) handed to ``collector``;
    ``next_row`` is the first row left to workers (none when ``done``)."""

    def __init__(
        self, source: Source, spec: JobSpec, collector: Collector, *, budget: float, fixed_rows: int
    ):
        self.source = source
        self.spec = spec
        self.collector = collector
        self.budget = budget
        self.fixed_rows = fixed_rows
        self.next_row = 0
        self.seconds = 0.0  # spent running rows here
        self.failed = False  # a row failed under errors="raise": no row is left to run
        self.reads: ColumnReads | None = None  # the columns rows run here read (see _projection)
        self.context: JobContext | None = None  # set once a row may run here
        self.weights = Weights(source)
        self.per_unit = 0.0  # what a unit of weight costs here, once a piece ran

    @property
    def done(self) -> bool:
        return self.failed or self.next_row >= self.source.rows

    def run(self) -> None:
        if self.budget <= 0:
            return
        context = JobContext(self.spec)
        self.reads = context.reads
        try:
            context.run_init()
        except Exception as exc:
            error = InitError(f"init raised in the calling process: {type(exc).__name__}: {exc}")
            error.worker_traceback = _describe(exc)[2]
            raise error from exc
        self.context = context
        rows = self.source.rows
        weights = self.weights
        total = weights.of(0, rows)
        size = self.fixed_rows or 1
        best_rate = math.inf  # seconds per unit of weight of the fastest piece after the first
        recent: deque[float] = deque(maxlen=RECENT_PIECES)  # the rates of the last pieces
        per_unit = 0.0  # what a unit of weight costs, once a piece ran
        local_end = getattr(self.source, "local_end", None)
        while self.next_row < rows:
            begin, end = self.next_row, min(rows, self.next_row + size)
            if local_end is not None:
                end = local_end(begin, end)
            if per_unit and per_unit * weights.of(begin, end) > self.budget:
                return  # a piece (a big group) that alone would pass the budget
            piece = self.piece(begin, end)
            started = time.perf_counter()  # the cost of rows, without the piece's own overhead
            outcome = self.run_piece(context, piece, end - begin)
            elapsed = time.perf_counter() - started
            self.seconds += elapsed
            self.collector.add(begin, end, outcome)
            self.next_row = end
            if outcome.errors and self.spec.errors == "raise":
                self.failed = True
                return
            # Within the budget the rows left cost what the fastest piece after the first cost per
            # row: the first also paid for warming up (imports, caches), and a piece the machine
            # stalled (a busy core) says nothing about the rest. Past the budget they cost what
            # the recent pieces did, so that rows growing costlier still go to workers.
            if begin > 0 and elapsed > 0:
                rate = elapsed / max(1, weights.of(begin, end))
                best_rate = min(best_rate, rate)
                recent.append(rate)
            done = weights.of(0, end)
            per_unit = best_rate if best_rate < math.inf else self.seconds / max(1, done)
            if self.seconds > self.budget and recent:
                per_unit = max(per_unit, statistics.median(recent))
            self.per_unit = per_unit
            probed = self.seconds >= min(PROBE_SECONDS, self.budget)  # warm workers: a short probe
            if probed and per_unit * (total - done) > self.budget:
                return
            if not self.fixed_rows and end < rows:
                target = PROBE_SECONDS - self.seconds if self.seconds < PROBE_SECONDS else PIECE_SECONDS
                fitting = weights.rows_within(end, target / per_unit) if per_unit > 0 else MAX_GROWTH * size
                size = max(1, min(MAX_GROWTH * size, fitting))

    # -- while a cold pool's workers start (see ``Dispatcher.bridge``) ------------------------------
    def can_bridge(self) -> bool:
        """Whether this process may run more of the job's rows while the workers start: rows ran
        here (so what they cost is known, and none failed) and the source hands out any rows on
        demand (a file's rows are read in order: ``can_read``, ``local_end``)."""
        return (
            self.context is not None
            and self.per_unit > 0
            and not self.failed
            and getattr(self.source, "can_read", None) is None
            and getattr(self.source, "local_end", None) is None
        )

    def bridge_end(self, begin: int, end: int) -> int | None:
        """Where a piece of rows [begin, end) run here while workers start ends: about
        ``PIECE_SECONDS`` of rows (all of them with ``chunk_rows``, whose batches keep their size);
        None when the piece would cost more than ``BRIDGE_SECONDS`` (a big group)."""
        cut = end
        if not self.fixed_rows:
            fitting = self.weights.rows_within(begin, PIECE_SECONDS / self.per_unit)
            cut = begin + max(1, min(end - begin, fitting))
        return None if self.per_unit * self.weights.of(begin, cut) > BRIDGE_SECONDS else cut

    def run_range(self, begin: int, end: int) -> tuple[ChunkResults, float]:
        """Runs rows [begin, end) here: their results and the seconds they took (which price the
        next piece)."""
        assert self.context is not None  # can_bridge
        started = time.perf_counter()
        outcome = self.run_piece(self.context, self.piece(begin, end), end - begin)
        elapsed = time.perf_counter() - started
        self.per_unit = max(elapsed, 1e-9) / max(1, self.weights.of(begin, end))
        return outcome, elapsed

    def piece(self, begin: int, end: int):
        """Rows [begin, end) as ``func`` takes them: a Chunk of rows, or a DataFrame for batches."""
        if self.spec.mode == "batches":
            return self.source.local_frame(begin, end)
        return self.source.local_chunk(begin, end)

    def run_piece(self, context: JobContext, piece, rows: int) -> ChunkResults:
        """Runs ``func`` over a piece of ``rows`` rows: their results, written and read as a
        worker's. An exception that is no Exception (KeyboardInterrupt, SystemExit) is not a row's
        failure: it propagates."""
        spec = self.spec
        if spec.mode == "batches":
            # The batch's value stays here as it is: a worker pickles it only to send it.
            # A fork's child returning from func ends in call_batch, as in a worker: it never
            # runs the caller's program on.
            try:
                value = call_batch(spec.func, piece, context.call_args, spec.kwargs or {})
            except Exception as exc:  # noqa: BLE001 - recorded like a worker's failure
                return ChunkResults.failed(1, _describe(exc))
            return ChunkResults.holding(value)
        return run_here(
            rows, lambda results: run_rows(context, piece, None, results), _encode, _describe_here
        )


def _describe_here(exc: BaseException) -> bytes:
    """A row's failure, described as a worker does; KeyboardInterrupt and SystemExit propagate."""
    if not isinstance(exc, Exception):
        raise exc
    return _describe_pickled(exc)
