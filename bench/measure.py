"""Measuring one run: a sampler of the whole process tree, the memory guard, and the time-out.

Every ~50 ms (less often when a sample is costly: the sampler uses at most 5% of a core) it reads
``/proc/PID/smaps_rollup`` of every process below the runner (the runner makes itself a child
subreaper, so workers that outlive or escape their parent are still seen and counted) plus the
used size of /dev/shm. Memory of a sample is

    sum of Pss  +  max(0, /dev/shm growth since start - sum of Pss_Shmem)

i.e. the PSS of all processes plus whatever /dev/shm holds that no process maps (mapped /dev/shm
pages are already in the PSS, through Pss_Shmem). Past ``limit_bytes`` the whole tree is killed and
the run is OOM. CPU is the per-process user+system time, last value seen for each process.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

SHM = "/dev/shm"
PR_SET_CHILD_SUBREAPER = 36
GiB = 1 << 30
MAX_OVERHEAD = 0.05  # share of one core the sampler may use
LEAK_GRACE_S = 3.0  # how long workers may take to exit after the run's process is gone


def become_subreaper() -> bool:
    """Make orphaned descendants of this process re-parent to it (Linux); False if unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def shm_used() -> int:
    """Bytes in use on /dev/shm (0 where there is none)."""
    try:
        st = os.statvfs(SHM)
    except OSError:
        return 0
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def read_rollup(pid: int) -> dict[str, int]:
    """``Rss``, ``Pss`` and ``Pss_Shmem`` of one process in bytes (empty if it is gone)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                key, _, rest = line.partition(b":")
                if key in (b"Rss", b"Pss", b"Pss_Shmem"):
                    out[key.decode()] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return {}
    return out


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` from ``/proc/PID/task/*/children`` (no scan of all of /proc)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                found.extend(int(x) for x in fh.read().split())
        except OSError:
            pass
    return found


def tree_pids(pid: int) -> list[int]:
    """All descendants of ``pid``, breadth first."""
    found, todo = [], [pid]
    while todo:
        kids = child_pids(todo.pop())
        found.extend(kids)
        todo.extend(kids)
    return found


def read_cpu(pid: int) -> tuple[int, float] | None:
    """(start time in ticks, user + system CPU seconds) of one process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rpartition(b")")[2].split()
    except OSError:
        return None
    # after the command: state(0) ppid ... utime(11) stime(12) ... starttime(19)
    return int(fields[19]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def system_busy() -> float:
    """CPU seconds all cores spent busy since boot (``/proc/stat``; idle and iowait excluded)."""
    with open("/proc/stat", "rb") as fh:
        ticks = [int(x) for x in fh.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS


def wait_for_quiet(max_wait: float, threshold: float = 0.3, probe: float = 1.0) -> float:
    """Wait (up to ``max_wait`` s) until other processes keep under ``threshold`` cores busy.

    The machine is shared (builds, test runs); a run started on a busy machine gets fewer cores
    than it asked for. Returns the background load of the last probe, in cores.
    """
    deadline = time.monotonic() + max_wait
    while True:
        busy0, t0 = system_busy(), time.monotonic()
        time.sleep(probe)
        load = (system_busy() - busy0) / (time.monotonic() - t0)
        if load < threshold or time.monotonic() >= deadline:
            return load


@dataclass
class Sample:
    """One look at the tree: monotonic time, memory total, its parts, the biggest worker's RSS,
    and the machine's cumulative busy CPU seconds (to tell how much else ran meanwhile)."""

    t: float
    memory: int
    pss: int
    shm_extra: int
    max_child_rss: int
    processes: int
    busy: float
    tree_cpu: float  # cumulative CPU seconds of every process of the tree seen so far


@dataclass
class TreeSampler:
    """Samples the descendants of this process in a thread; kills them all past ``limit_bytes``.

    Reads only this tree's ``/proc`` files and stretches its interval so that it uses at most
    ``MAX_OVERHEAD`` of one core; ``overhead_cpu`` says how much this process used meanwhile.
    """

    root_pid: int
    limit_bytes: int
    interval: float = 0.05
    samples: list[Sample] = field(default_factory=list)
    cpu: dict[tuple[int, int], float] = field(default_factory=dict)  # (pid, start) -> cpu s
    killed_for_memory: bool = False
    overhead_cpu: float = 0.0

    def __post_init__(self) -> None:
        self._me = psutil.Process()
        self._shm0 = shm_used()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._cpu0 = time.process_time()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.overhead_cpu = time.process_time() - self._cpu0

    def _loop(self) -> None:
        while not self._stop.is_set():
            cpu0 = time.thread_time()
            self.sample()
            cost = time.thread_time() - cpu0
            # keep the sampler below MAX_OVERHEAD of one core (reading smaps_rollup costs the
            # kernel ~1 ms per process), never sampling less often than every 50 ms otherwise
            self._stop.wait(max(self.interval, cost / MAX_OVERHEAD))

    def sample(self) -> Sample:
        """Take one sample (and enforce the memory guard)."""
        pss = pss_shmem = max_child_rss = 0
        pids = tree_pids(os.getpid())
        for pid in pids:
            roll = read_rollup(pid)
            pss += roll.get("Pss", 0)
            pss_shmem += roll.get("Pss_Shmem", 0)
            if pid != self.root_pid:
                max_child_rss = max(max_child_rss, roll.get("Rss", 0))
            cpu = read_cpu(pid)
            if cpu is not None:
                self.cpu[(pid, cpu[0])] = cpu[1]
        shm_extra = max(0, shm_used() - self._shm0 - pss_shmem)
        sample = Sample(
            time.monotonic(),
            pss + shm_extra,
            pss,
            shm_extra,
            max_child_rss,
            len(pids),
            system_busy(),
            sum(self.cpu.values()),
        )
        self.samples.append(sample)
        if sample.memory > self.limit_bytes and not self.killed_for_memory:
            self.killed_for_memory = True
            kill_tree(self._me)
        return sample

    def background_cores(self, samples: list[Sample]) -> float | None:
        """Cores kept busy by processes outside the tree (this sampler included) over ``samples``."""
        if len(samples) < 2 or samples[-1].t <= samples[0].t:
            return None
        first, last = samples[0], samples[-1]
        other = (last.busy - first.busy) - (last.tree_cpu - first.tree_cpu)
        return max(0.0, other / (last.t - first.t))

    def window(self, t_start: float | None, t_end: float | None) -> list[Sample]:
        """Samples taken between ``t_start`` and ``t_end`` (all of them if either is unknown)."""
        if t_start is None or t_end is None:
            return self.samples
        inside = [s for s in self.samples if t_start <= s.t <= t_end]
        return inside or self.samples


def descendants(proc: psutil.Process) -> list[psutil.Process]:
    """All live descendants of ``proc`` (an empty list if it cannot be read)."""
    try:
        return proc.children(recursive=True)
    except psutil.Error:
        return []


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """The processes of ``procs`` that still run (zombies are dead)."""
    live = []
    for proc in procs:
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                live.append(proc)
        except psutil.Error:
            pass
    return live


def kill_tree(proc: psutil.Process) -> int:
    """SIGKILL every descendant of ``proc`` (by pid, reuse checked by psutil), reap them.

    Returns how many were still alive (not zombies) when killed.
    """
    victims = descendants(proc)
    live = alive(victims)
    for victim in live:
        try:
            victim.send_signal(signal.SIGKILL)
        except psutil.Error:
            pass
    psutil.wait_procs(victims, timeout=10)
    return len(live)


def wait_tree_gone(proc: psutil.Process, grace: float) -> None:
    """Give descendants up to ``grace`` seconds to exit by themselves (e.g. on parent death)."""
    deadline = time.monotonic() + grace
    while alive(descendants(proc)) and time.monotonic() < deadline:
        time.sleep(0.05)


@dataclass
class RunOutcome:
    """What the runner learns about one child process."""

    returncode: int | None
    timed_out: bool
    oom: bool
    leaked: int  # descendants still alive after the run's process exited
    wall_process: float
    stderr: str
    sampler: TreeSampler


def run_measured(
    cmd: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    timeout: float,
    limit_bytes: int,
    stderr_path: Path,
    interval: float = 0.05,
) -> RunOutcome:
    """Run ``cmd`` in a new session while sampling its tree; kill it all on time-out or OOM.

    Processes left behind after the run's process exits are counted as leaked and killed.
    """
    me = psutil.Process()
    kill_tree(me)  # nothing of an earlier run may be counted in this one
    t0 = time.monotonic()
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdout=err,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        timed_out = False
        with TreeSampler(proc.pid, limit_bytes, interval) as sampler:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                kill_tree(me)
                proc.wait()
            wall = time.monotonic() - t0
            wait_tree_gone(me, LEAK_GRACE_S)
            leaked = kill_tree(me)
    oom = sampler.killed_for_memory or (proc.returncode == -signal.SIGKILL and not timed_out)
    text = stderr_path.read_text(errors="replace")
    return RunOutcome(proc.returncode, timed_out, oom, leaked, wall, text, sampler)
