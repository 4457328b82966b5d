"""Worker launch: how a worker process is started, and how a process knows it is one.

A worker is a fresh interpreter (``sys.executable -c BOOTSTRAP``), never a fork of the parent,
whose memory may be huge. It inherits only the arena segment, as fd ``_core.SEGMENT_FD`` (the
descriptor numbers are defined once in C++, cpp/core/worker_fds.hpp), and its message queue, whose
fd the Supervisor appends as ``--queue-fd N``. The bootstrap code

- sizes native thread pools (BLAS, OpenMP, numexpr) to the worker's share of the CPUs unless the
  user sized them: each of N workers starting a pool as large as the machine oversubscribes it;
- sets the worker flag (``sys._rowpool_worker``), read by ``in_worker()``: ``import rowpool`` in a
  worker then skips what needs pandas (the accessor), so a worker that reads no pandas object never
  imports pandas;
- puts the directory holding this ``rowpool`` package first on ``sys.path`` and runs
  ``rowpool._worker.main`` with the arguments of ``worker_argv``.

Used by the parent (``worker_argv``) and by ``rowpool/__init__`` (``in_worker``).
"""

from __future__ import annotations

import os
import sys
import threading

from . import _core

WORKER_FLAG = "_rowpool_worker"  # the attribute of ``sys`` set in worker processes

THREAD_POOL_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def in_worker() -> bool:
    """True inside a rowpool worker process."""
    return bool(getattr(sys, WORKER_FLAG, False))


def default_workers() -> int:
    """The number of CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def bootstrap_code(workers: int) -> str:
    """The ``-c`` program of a worker of a pool of ``workers`` workers."""
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    threads = str(max(1, default_workers() // workers))
    return "\n".join(
        (
            "import os, sys",
            f"for name in {THREAD_POOL_VARIABLES!r}: os.environ.setdefault(name, {threads!r})",
            f"sys.{WORKER_FLAG} = True",
            f"sys.path.insert(0, {package_parent!r})",
            "from rowpool._worker import main",
            "sys.exit(main())",
        )
    )


def worker_argv(workers: int) -> list[str]:
    """The command line of a worker (the Supervisor appends ``--queue-fd N``); its segment is the
    first fd handed to ``Supervisor.spawn``."""
    argv = [sys.executable, "-c", bootstrap_code(workers)]
    argv += ["--segment-fd", str(_core.SEGMENT_FD), "--parent-pid", str(os.getpid())]
    if threading.current_thread() is threading.main_thread():
        # PR_SET_PDEATHSIG follows the spawning thread: only the main thread lives as long as us.
        argv.append("--parent-death-signal")
    return argv
