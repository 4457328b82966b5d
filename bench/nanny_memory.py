"""Does the Dask nanny's memory_limit count a worker's child processes? Measured, not assumed.

    python bench/nanny_memory.py

One LocalCluster worker (nanny, memory_limit 300 MB). First a child process of the worker holds
900 MB (3x the limit) for WATCH_S seconds; then the worker process itself holds 900 MB. For each,
prints whether the nanny restarted the worker (its pid changed) and the RSS it reached. Result
(distributed 2026.8): the child is ignored, the worker itself is restarted within seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

LIMIT = 300 * 10**6
HOLD = 900 * 10**6
WATCH_S = 10.0

CHILD = f"b = bytearray({HOLD}); b[::4096] = b'x' * len(b[::4096]); import time; time.sleep(60)"


def start_child() -> int:
    """In the worker: a child holding HOLD bytes (touched, so resident)."""
    child = subprocess.Popen([sys.executable, "-c", CHILD])
    globals()["_child"] = child  # kept alive
    return child.pid


def hold_in_worker() -> int:
    block = bytearray(HOLD)
    block[::4096] = b"x" * len(block[::4096])
    globals()["_block"] = block
    return os.getpid()


def _rss(pid: int) -> int:
    import psutil

    try:
        return psutil.Process(pid).memory_info().rss
    except psutil.NoSuchProcess:
        return 0


def watch(client, pid: int, holder: int) -> tuple[bool, int]:
    """(worker restarted within WATCH_S, peak RSS of the holder)."""
    peak, deadline = 0, time.monotonic() + WATCH_S
    while time.monotonic() < deadline:
        peak = max(peak, _rss(holder))
        try:
            pids = list(client.run(os.getpid, nanny=False).values())
        except Exception:  # the worker is being restarted
            pids = []
        if pids and pids[0] != pid:
            return True, peak
        time.sleep(0.2)
    return False, peak


def main() -> None:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            memory_limit=LIMIT,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # its HTTP server (always started) on loopback
        ) as cluster,
        Client(cluster) as client,
    ):
        pid = list(client.run(os.getpid).values())[0]
        child = list(client.run(start_child).values())[0]
        restarted, peak = watch(client, pid, child)
        print(
            f"child of the worker holding {HOLD / 1e6:.0f} MB (limit {LIMIT / 1e6:.0f} MB): "
            f"child RSS {peak / 1e6:.0f} MB, worker restarted: {restarted}"
        )
        os.kill(child, 9)
        held = client.submit(hold_in_worker, pure=False)  # noqa: F841 (the nanny may kill it first)
        restarted, peak = watch(client, pid, pid)
        print(
            f"the worker itself holding {HOLD / 1e6:.0f} MB: worker RSS {peak / 1e6:.0f} MB, "
            f"worker restarted: {restarted}"
        )


if __name__ == "__main__":
    main()
