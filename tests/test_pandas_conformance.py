"""pandas' own tests of ``DataFrame.apply``, ``Series.map`` / ``Series.apply`` and
``groupby(...).apply``, run with those calls computed by rowpool (see
``tests/pandas_conformance/plugin.py``): they pass, except the tests listed in
``tests/pandas_conformance/expected_failures.py`` (each with its reason), which must fail.

The test files are those of the installed pandas (shipped in its wheels), so the run follows the
pandas version under test. It runs in a pytest subprocess: pandas' conftest and options stay out of
this suite.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

PANDAS_TESTS = Path(pd.__file__).parent / "tests"
TEST_FILES = (
    "apply/test_frame_apply.py",
    "apply/test_series_apply.py",
    "series/methods/test_map.py",
    "groupby/test_apply.py",
    "groupby/test_apply_mutate.py",
)
SUMMARY = re.compile(r"rowpool conformance: (\d+) calls routed to rowpool in (\d+) tests")


def _outcome_counts(output: str) -> dict[str, int]:
    last = [line for line in output.splitlines() if re.search(r" in [\d.]+s", line)][-1]
    outcomes = re.findall(r"(\d+) (passed|failed|xfailed|xpassed|skipped|error)", last)
    return {kind: int(n) for n, kind in outcomes}


@pytest.mark.timeout(900)
def test_pandas_own_tests_pass_with_calls_routed_to_rowpool():
    files = [str(PANDAS_TESTS / name) for name in TEST_FILES if (PANDAS_TESTS / name).exists()]
    assert len(files) >= 4, f"pandas' test files are missing from {PANDAS_TESTS}"
    path = os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "pandas_conformance.plugin",
            "--durations=0",
            "--durations-min=60",
            "-W",
            "ignore::pytest.PytestUnraisableExceptionWarning",
            "--timeout=300",
            *files,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=880,
        cwd=PANDAS_TESTS.parent,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    counts = _outcome_counts(output)
    routed = SUMMARY.search(output)
    assert routed is not None, output[-3000:]
    calls, tests = map(int, routed.groups())
    assert counts["passed"] > 500 and tests > 250, (counts, calls, tests)
