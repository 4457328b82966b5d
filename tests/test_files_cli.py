"""``rowpool run`` / ``python -m rowpool run``: a real command line in a real process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROWS = 5_000

FUNCTIONS = textwrap.dedent(
    """
    def score(row):
        return row["a"] * 2 + row["id"]

    def picky(row):
        if row["id"] % 1000 == 7:
            raise ValueError("seven")
        return row["a"]

    def halves(chunk):
        return chunk["a"] / 2
    """
)


@pytest.fixture
def workspace(tmp_path):
    pq.write_table(
        pa.table({"id": np.arange(ROWS), "a": np.linspace(0, 1, ROWS)}), str(tmp_path / "in.parquet")
    )
    (tmp_path / "jobs.py").write_text(FUNCTIONS)
    return tmp_path


def rowpool_cli(workspace, *args):
    argv = [sys.executable, "-m", "rowpool", "run", *args]
    return subprocess.run(argv, cwd=workspace, capture_output=True, text=True, timeout=120)


def test_run_writes_the_output_and_one_summary_line(workspace):
    done = rowpool_cli(
        workspace, "in.parquet", "jobs:score", "-o", "out.parquet", "--keep", "id", "--workers", "2"
    )
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert re.fullmatch(
        r"rowpool: 5,000 rows in [\d.]+ s, [\d,]+ rows/s, peak memory [\d,]+ MiB "
        r"\(PSS of (1 process|\d+ processes)\), 0 failures -> .*out\.parquet",
        line,
    ), line
    written = pd.read_parquet(workspace / "out.parquet")
    assert written.columns.tolist() == ["id", "result"]
    np.testing.assert_allclose(written["result"], np.linspace(0, 1, ROWS) * 2 + np.arange(ROWS))


def test_batches_from_a_py_file_with_projected_columns(workspace):
    done = rowpool_cli(
        workspace,
        "in.parquet",
        "jobs.py:halves",
        "-o",
        "out.csv",
        "--batch",
        "--columns",
        "a",
        "--no-progress",
    )
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(pd.read_csv(workspace / "out.csv")["a"], np.linspace(0, 1, ROWS) / 2)


def test_a_failing_row_fails_the_run_and_keeps_no_output(workspace):
    done = rowpool_cli(workspace, "in.parquet", "jobs:picky", "-o", "out.parquet")
    assert done.returncode == 1
    assert "seven (row 7)" in done.stderr
    assert not (workspace / "out.parquet").exists()


def test_collected_failures_go_beside_the_output_and_set_the_exit_status(workspace):
    done = rowpool_cli(workspace, "in.parquet", "jobs:picky", "-o", "out.parquet", "--errors", "collect")
    assert done.returncode == 3, done.stderr
    assert "5 failures" in done.stdout
    failures = pd.read_csv(workspace / "out.parquet.failures.csv")
    assert failures["row"].tolist() == [7, 1007, 2007, 3007, 4007]
    assert pd.read_parquet(workspace / "out.parquet")["result"].isna().sum() == 5


def test_an_existing_output_needs_overwrite_or_resume(workspace):
    (workspace / "out.parquet").write_bytes(b"precious")
    done = rowpool_cli(workspace, "in.parquet", "jobs:score", "-o", "out.parquet")
    assert done.returncode == 1
    assert done.stderr.startswith(f"rowpool: output {workspace / 'out.parquet'} exists; pass --overwrite")
    assert "--resume" in done.stderr and "Errno" not in done.stderr
    assert (workspace / "out.parquet").read_bytes() == b"precious"
    assert (
        rowpool_cli(workspace, "in.parquet", "jobs:score", "-o", "out.parquet", "--overwrite").returncode == 0
    )


def test_a_missing_input_is_named_without_errno_noise(workspace):
    done = rowpool_cli(workspace, "missing.parquet", "jobs:score", "-o", "out.parquet")
    assert done.returncode == 1
    assert done.stderr == "rowpool: no such file: missing.parquet\n"


@pytest.mark.parametrize("function", ["jobs:nothing", "nomodule:score", "score"])
def test_a_function_that_cannot_be_loaded_is_a_usage_error(workspace, function):
    done = rowpool_cli(workspace, "in.parquet", function, "-o", "out.parquet")
    assert done.returncode == 2
    assert "cannot load" in done.stderr


def test_help_shows_examples():
    done = subprocess.run(
        [sys.executable, "-m", "rowpool", "run", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert "rowpool run events.parquet scoring:score -o scores.parquet --keep id" in done.stdout
    assert "--resume" in done.stdout and "exit status" in done.stdout


SLOW = textwrap.dedent(
    """
    import time

    def slow(row):
        time.sleep(0.001)
        return row["a"]
    """
)


def test_ctrl_c_stops_the_run_and_resume_finishes_it(workspace):
    (workspace / "slowjobs.py").write_text(SLOW)
    argv = [sys.executable, "-m", "rowpool", "run", "in.parquet", "slowjobs:slow", "-o", "out.parquet"]
    process = subprocess.Popen(argv, cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = workspace / "out.parquet.rowpool-resume" / "journal"
    deadline = time.monotonic() + 60
    while not journal.exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.01)
    time.sleep(0.5)  # rows are running now
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 130, stderr
    assert "--resume continues" in stderr
    assert not (workspace / "out.parquet").exists()
    done = rowpool_cli(workspace, "in.parquet", "slowjobs:slow", "-o", "out.parquet", "--resume")
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(pd.read_parquet(workspace / "out.parquet")["result"], np.linspace(0, 1, ROWS))
    assert not os.path.exists(journal)
