"""Resume after the parent is SIGKILLed: at 10 points of a file job (before the first commit, after
1, 2, ... windows), ``resume=True`` finishes the job, the output is byte-identical to an uninterrupted
run's, and no row committed before the kill runs again."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rowpool.files._journal import JOURNAL_NAME, Journal, decode_records, resume_dir

ROWS = 150_000
PAD = "r" * 600  # ~10,000 rows per window with max_memory="64MB": 15 windows
KILL_POINTS = 10

JOB = textwrap.dedent(
    """
    import os, sys
    import rowpool

    source, output, log, resume = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"

    def logged(row, _log=[]):
        if not _log:
            _log.append(os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
        os.write(_log[0], b"%d\\n" % row["id"])
        return row["a"] * 2 + row["id"]

    rowpool.apply(source, logged, output=output, keep=["id"], max_memory="64MB",
                  workers=2, resume=resume, progress=False)
    """
)


def _start(source, output, log, resume: bool) -> subprocess.Popen:
    argv = [sys.executable, "-c", JOB, source, output, log, "1" if resume else "0"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen) -> None:
    _, stderr = process.communicate(timeout=180)
    assert process.returncode == 0, stderr.decode()


def _committed_parts(output: str) -> int:
    """Windows the journal records as committed; -1 while there is no journal yet."""
    try:
        with open(os.path.join(resume_dir(output), JOURNAL_NAME), "rb") as f:
            return sum("part" in record for record, _ in decode_records(f.read()))
    except FileNotFoundError:
        return -1


def _rows_run(log: str) -> list[int]:
    """The ids of the rows a job ran (none if it ran none: no log)."""
    if not os.path.exists(log) or os.path.getsize(log) == 0:
        return []
    return np.atleast_1d(np.loadtxt(log, dtype=np.int64)).tolist()


def _workers_of(pid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "--parent-pid" in cmdline and cmdline[cmdline.index("--parent-pid") + 1] == str(pid):
            found.append(process)
    return found


def _kill_after(process: subprocess.Popen, output: str, parts: int, delay: float) -> bool:
    """SIGKILLs the job once ``parts`` windows are committed, ``delay`` seconds into the next;
    False if the job had finished by itself first (a fast machine outran the delay)."""
    deadline = time.monotonic() + 120
    while _committed_parts(output) < parts and process.poll() is None:
        assert time.monotonic() < deadline, "the job committed nothing for two minutes"
        time.sleep(0.01)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _workers_of(process.pid):  # workers notice their parent's death and exit
        assert time.monotonic() < deadline, "workers outlived their killed parent"
        time.sleep(0.05)
    return process.returncode == -signal.SIGKILL


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("resume") / "in.parquet")
    rng = np.random.default_rng(3)
    table = pa.table({"id": np.arange(ROWS), "a": rng.uniform(0, 1, ROWS), "pad": [PAD] * ROWS})
    pq.write_table(table, path, row_group_size=4_000)
    return path


@pytest.fixture(scope="module")
def reference(source, tmp_path_factory):
    directory = tmp_path_factory.mktemp("reference")
    output, log = str(directory / "out.parquet"), str(directory / "rows.log")
    _finish(_start(source, output, log, resume=False))
    assert sorted(_rows_run(log)) == list(range(ROWS))  # each row exactly once
    return open(output, "rb").read()


@pytest.mark.timeout(900)
def test_resume_after_sigkill_at_many_points_gives_the_same_bytes(source, reference, tmp_path):
    rng = random.Random(11)
    for point in range(KILL_POINTS):
        output = str(tmp_path / f"out-{point}.parquet")
        first_log, second_log = str(tmp_path / f"first-{point}.log"), str(tmp_path / f"second-{point}.log")
        # A random delay into the next window; where the job outran it (it exited, or had
        # renamed its complete output when the kill landed), the kill lands right after the
        # ``point``-th commit instead, so every point is a real mid-job kill.
        killed = _kill_after(
            _start(source, output, first_log, resume=False), output, point, rng.uniform(0, 0.3)
        )
        if not killed or os.path.exists(output):
            for leftover in (output, first_log):
                os.remove(leftover)
            shutil.rmtree(resume_dir(output), ignore_errors=True)
            killed = _kill_after(_start(source, output, first_log, resume=False), output, point, 0.0)
            assert killed, f"kill point {point}: the job finished before its {point}-th commit was seen"
        assert not os.path.exists(output), f"kill point {point}: an output appeared before the job finished"
        header = decode_records(open(os.path.join(resume_dir(output), JOURNAL_NAME), "rb").read())[0][0]
        committed = Journal.open(output, header["fingerprint"]).rows
        assert committed >= 0 if point == 0 else committed > 0

        _finish(_start(source, output, second_log, resume=True))
        assert open(output, "rb").read() == reference, f"kill point {point}: output differs"
        assert not os.path.exists(resume_dir(output))
        rerun = _rows_run(second_log)
        assert set(range(committed, ROWS)) <= set(rerun), f"kill point {point}: rows were not run"
        assert min(rerun, default=ROWS) >= committed, f"kill point {point}: committed rows ran again"
        print(json.dumps({"point": point, "committed": committed}))


def test_resume_of_a_finished_job_changes_nothing(source, reference, tmp_path):
    output, log = str(tmp_path / "done.parquet"), str(tmp_path / "rows.log")
    with open(output, "wb") as f:
        f.write(reference)
    _finish(_start(source, output, log, resume=True))
    assert open(output, "rb").read() == reference
    assert not os.path.exists(log)  # no row ran
