"""Worker process: a fresh interpreter (never forked from the big parent) that the parent's
Supervisor starts with the bootstrap code in ``rowpool._launch`` (``sys.executable -c ...``), which
calls ``main`` with ``--segment-fd F --parent-pid P --queue-fd Q``. It maps the arena, then
loops: receive a message (GIL released while waiting), decode the chunk from the arena, run the C++
row loop, which writes each row's result into the task's result area as the row finishes (see
rowpool._results), report. It exits when
its queue closes (the parent shut it down or died); PR_SET_PDEATHSIG covers a parent SIGKILLed while
a row is running.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import select
import signal
import sys
import threading
import time
import traceback
from collections import deque

from . import _core, _protocol
from ._deferred_imports import DeferringFinder
from ._exception_types import describe_type
from ._pandas.projected import ColumnFetcher, decode_task_chunk
from ._pandas.rows import JobContext, chunk_frame, run_rows
from .errors import QueueClosed


def _describe(exc: BaseException) -> tuple:
    """(type name, message, formatted traceback, description of its type) of an exception.

    Never raises: an exception whose ``__str__`` or traceback formatting fails, or whose type cannot
    be pickled, is still described (see _exception_types: the parent rebuilds that type)."""
    kind = type(exc)
    original = describe_type(kind)
    module = getattr(kind, "__module__", None)
    qualname = getattr(kind, "__qualname__", None) or getattr(kind, "__name__", "?")
    type_name = qualname if module in (None, "builtins") else f"{module}.{qualname}"
    try:
        message = str(exc)
    except BaseException as failure:  # noqa: BLE001
        message = f"<str() of the exception failed: {type(failure).__name__}>"
    try:
        formatted = "".join(traceback.format_exception(exc))
    except BaseException:  # noqa: BLE001
        formatted = f"{type_name}: {message}\n(the traceback could not be formatted)\n"
    return (str(type_name), str(message), formatted, original)


def _dumps(value) -> bytes:
    try:
        return pickle.dumps(value, protocol=5)
    except Exception:
        import cloudpickle

        return cloudpickle.dumps(value, protocol=5)


def _encode(value) -> bytes:
    """A result's pickle; raises a SerializationError naming the cause (the row then fails)."""
    try:
        return _dumps(value)
    except Exception as exc:
        raise _unpicklable(exc) from exc


def _describe_pickled(exc: BaseException) -> bytes:
    return pickle.dumps(_describe(exc), protocol=5)


def _unpicklable(exc: BaseException) -> BaseException:
    """The pickling failure of a result, as a SerializationError naming its cause."""
    from .errors import SerializationError

    try:
        text = f"the result cannot be pickled to send it to the parent: {type(exc).__name__}: {exc}"
    except Exception:  # noqa: BLE001
        text = "the result cannot be pickled to send it to the parent"
    error = SerializationError(text)
    error.__cause__ = exc
    return error


class Worker:
    def __init__(self, queue: _core.MessageQueue, memory):
        self.queue = queue
        self.memory = memory
        self.context: JobContext | None = None
        self.imports = DeferringFinder().install()
        self.stash: deque = deque()  # messages received while a row waited for columns
        self.pid = os.getpid()

    def serve(self) -> int:
        # QueueClosed: the parent is done with us (it stopped the job, or closed the pool while a
        # chunk ran) or gone. Nobody is left to tell, and nothing to report on stderr.
        with contextlib.suppress(QueueClosed):
            while True:
                header, payload = self.stash.popleft() if self.stash else self.queue.receive()
                kind, _flags, tag = header[0], header[1], header[2]
                if kind == _protocol.JOB:
                    self.load_job(tag, payload)
                elif kind == _protocol.TASK:
                    self.run_task(tag, payload)
        return 0

    def load_job(self, job_id: int, payload: bytes) -> None:
        try:
            parent_path, defer_imports, spec_bytes = pickle.loads(payload)
            sys.path.extend(p for p in parent_path if p not in sys.path)
            self.imports.active = defer_imports
            try:
                spec = pickle.loads(spec_bytes)
            finally:
                self.imports.active = False
            if not defer_imports:
                self.imports.load_deferred()
            context = JobContext(spec)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
            self.job_failed(
                job_id, 0, "the function or its arguments could not be unpickled in the worker", exc
            )
            return
        try:
            context.run_init()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
            self.job_failed(job_id, _protocol.INIT_FAILED, "init raised in a worker", exc)
            return
        self.context = context

    def job_failed(self, job_id: int, flags: int, what: str, exc: BaseException) -> None:
        self.context = None
        info = pickle.dumps(_protocol.JobFailure(what, *_describe(exc)[:3]))
        self.queue.send(_protocol.JOB_FAILED, flags, job_id, 0, 0, info)

    def run_task(self, chunk_id: int, payload: bytes) -> None:
        context = self.context
        if context is None:
            return  # the job failed to load; the parent already knows
        task = _protocol.TaskRecord.unpack(payload)
        result_offset = task.result_offset
        self.queue.send(_protocol.STARTED, 0, chunk_id, 0, 0, b"")
        spec = context.spec
        modules = len(sys.modules)
        started = time.perf_counter()
        results = _core.ResultWriter(
            self.memory[result_offset : result_offset + task.result_capacity],
            task.end - task.begin if spec.mode == "rows" else 1,
            _encode,
            _describe_pickled,
            lambda log: self.queue.send(_protocol.SPILLED, 0, chunk_id, 0, 0, log),
        )
        chunk = decode_task_chunk(self.memory, task.chunk_offset, context, task.projection)
        progress = self.memory[result_offset - _protocol.PROGRESS_BYTES : result_offset]
        read: tuple[int, bytes] = (0, b"")
        if spec.mode == "rows":
            fetch = ColumnFetcher(context, lambda positions: self.fetch(chunk_id, positions))
            run_rows(context, chunk, progress, results, fetch)
            read = context.reads.report()
        else:
            run_batch(context, chunk, progress, results)
        elapsed_ns = int((time.perf_counter() - started) * 1e9)
        flags = read[0] | (_protocol.IMPORTED if len(sys.modules) != modules else 0)
        del chunk, results  # views into the arena: drop them before the parent reuses the block
        self.queue.send(_protocol.RESULT, flags, chunk_id, 0, elapsed_ns, read[1])

    def fetch(self, chunk_id: int, positions) -> bytes:
        """Asks the parent for the columns at ``positions`` of chunk ``chunk_id``'s rows (FETCH)
        and waits for them (COLUMNS); messages that come meanwhile (the next TASKs) are stashed
        and handled after the chunk. The parent gone (or done with this worker), the worker ends
        as ``serve`` would; a process the row's function forked gets QueueClosed."""
        try:
            self.queue.send(_protocol.FETCH, 0, chunk_id, 0, 0, positions.tobytes())
            while True:
                header, payload = self.queue.receive()
                if header[0] == _protocol.COLUMNS and header[2] == chunk_id:
                    return payload
                self.stash.append((header, payload))
        except QueueClosed:
            if os.getpid() != self.pid:
                raise
            os._exit(0)


def call_batch(func, frame, args: tuple, kwargs: dict):
    """``func(frame, *args, **kwargs)``. If ``func`` forked, the child returning from it (or
    raising) ends here, before it writes anything: the chunk, its result area and the queue belong
    to the process that forked, which may have moved on to another chunk in the same memory. (The
    row loop does the same in C++ after each row.)"""
    pid = os.getpid()
    try:
        return func(frame, *args, **kwargs)
    finally:
        if os.getpid() != pid:
            os._exit(0)


def run_batch(context: JobContext, chunk, progress, results) -> None:
    """Calls the job's function on ``chunk`` as a DataFrame; its value or failure goes to
    ``results``."""
    spec = context.spec
    try:
        frame = chunk_frame(context, chunk)
        progress.view("<i8")[0] = 1  # the batch runs: a death from now on is its own
        value = call_batch(spec.func, frame, context.call_args, spec.kwargs or {})
    except BaseException as exc:  # noqa: BLE001 - the parent decides what to do with it
        results.fail(0, exc)
        return
    results.put(0, value)


def _watch_parent(parent_pid: int) -> None:
    """Ends this worker when the parent process ends, even while a row is running: a daemon thread
    waits on a pidfd of the parent (a pidfd names that very process, never a recycled pid)."""
    try:
        parent = os.pidfd_open(parent_pid)
    except OSError:
        os._exit(1)  # the parent is already gone
    if os.getppid() != parent_pid:
        os._exit(1)  # it died (and we were reparented) before the pidfd was opened

    def watch() -> None:
        select.select([parent], [], [])
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="rowpool-parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rowpool._worker")
    parser.add_argument("--segment-fd", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--queue-fd", type=int, required=True)
    parser.add_argument("--parent-death-signal", action="store_true")
    options = parser.parse_args(argv)
    # Ctrl-C belongs to the parent, which ends its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if options.parent_death_signal:
        # Only when spawned by the parent's main thread: PR_SET_PDEATHSIG fires when the *thread*
        # that spawned us ends, which for any other thread is long before the parent process does.
        _core.arm_parent_death_signal(options.parent_pid)
    _watch_parent(options.parent_pid)
    segment = _core.Segment.attach(options.segment_fd)
    worker = Worker(_core.MessageQueue(options.queue_fd), segment.view())
    return worker.serve()


if __name__ == "__main__":
    sys.exit(main())
