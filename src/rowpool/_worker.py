"""Worker process: ``python -m rowpool._worker --segment-fd F --parent-pid P --queue-fd Q``.

Spawned by the parent's Supervisor (never forked from the big parent). It maps the arena, then
loops: receive a message (GIL released while waiting), decode the chunk from the arena, run the C++
row loop, write the result back (into the arena when it fits, else inline), report. It exits when
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

from . import _core, _protocol
from ._deferred_imports import DeferringFinder
from ._exception_types import describe_type
from ._rows import JobContext, chunk_frame, decode_chunk, run_rows
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


def _picklable_outcome(outcome) -> bytes:
    """The pickled chunk outcome. Results that cannot be pickled become failures of their own rows
    (their value None), so ``errors`` applies to them like to any failing row."""
    try:
        return _dumps(outcome)
    except Exception as whole_failure:
        kind, data, _numpy_scalars, failures = outcome
        values = data if isinstance(data, list) else [None]
        failed = {f[0] for f in failures}
        values = list(values)
        for pos, value in enumerate(values):
            if pos in failed:
                continue
            try:
                _dumps(value)
            except Exception as exc:  # noqa: BLE001
                values[pos] = None
                failures.append((pos,) + _describe(_unpicklable(exc)))
        failures.sort(key=lambda f: f[0])
        fixed = (_protocol.ResultKind.OBJECT, values, True, failures)
        try:
            return _dumps(fixed)
        except Exception:  # noqa: BLE001 - give up on the chunk's values, keep its rows failed
            error = _describe(_unpicklable(whole_failure))
            rows = len(values)
            every = [(pos,) + error for pos in range(rows)]
            return _dumps((_protocol.ResultKind.OBJECT, [None] * rows, True, every))


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
        self.job_id = 0
        self.imports = DeferringFinder().install()
        self.pid = os.getpid()

    def serve(self) -> int:
        # QueueClosed: the parent is done with us (it stopped the job, or closed the pool while a
        # chunk ran) or gone. Nobody is left to tell, and nothing to report on stderr.
        with contextlib.suppress(QueueClosed):
            while True:
                header, payload = self.queue.receive()
                kind, _flags, tag = header[0], header[1], header[2]
                if kind == _protocol.JOB:
                    self.load_job(tag, payload)
                elif kind == _protocol.TASK:
                    self.run_task(tag, payload)
        return 0

    def load_job(self, job_id: int, payload: bytes) -> None:
        self.job_id = job_id
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
        info = pickle.dumps((what,) + _describe(exc)[:3])
        self.queue.send(_protocol.JOB_FAILED, flags, job_id, 0, 0, info)

    def run_task(self, chunk_id: int, payload: bytes) -> None:
        if self.context is None:
            return  # the job failed to load; the parent already knows
        (chunk_offset, _chunk_bytes, result_offset, result_capacity, _begin, _end) = (
            _protocol.TASK_RECORD.unpack(payload)
        )
        self.queue.send(_protocol.STARTED, 0, chunk_id, 0, 0, b"")
        spec = self.context.spec
        modules = len(sys.modules)
        started = time.perf_counter()
        chunk = decode_chunk(self.memory, chunk_offset, self.context)
        if spec.mode == "rows":
            progress = self.memory[result_offset - _protocol.PROGRESS_BYTES : result_offset]
            outcome = self.run_rows(chunk, progress)
        else:
            outcome = self.run_batch(chunk)
        if os.getpid() != self.pid:
            # The function forked and this is the child returning from it: the chunk and the
            # queue are the worker's. (The row loop does the same in C++ after each row.)
            os._exit(0)
        elapsed_ns = int((time.perf_counter() - started) * 1e9)
        flags = _protocol.IMPORTED if len(sys.modules) != modules else 0
        result = _picklable_outcome(outcome)
        del chunk  # views into the arena: drop them before the parent reuses the block
        size = len(result)
        if size <= result_capacity:
            self.memory[result_offset : result_offset + size] = memoryview(result).cast("B")
            flags |= _protocol.IN_ARENA
            result = b""
        self.queue.send(_protocol.RESULT, flags, chunk_id, size, elapsed_ns, result)

    def run_rows(self, chunk, progress):
        kind, data, numpy_scalars, failures = run_rows(self.context, chunk, progress)
        return kind, data, numpy_scalars, [(pos,) + _describe(exc) for pos, exc in failures]

    def run_batch(self, chunk):
        spec = self.context.spec
        try:
            value = spec.func(
                chunk_frame(self.context, chunk), *self.context.call_args, **(spec.kwargs or {})
            )
        except BaseException as exc:  # noqa: BLE001 - the parent decides what to do with it
            return _protocol.ResultKind.OBJECT, [None], True, [(0,) + _describe(exc)]
        return _protocol.ResultKind.OBJECT, [value], False, []


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
