"""``init=``: a callable run once per worker (also a replacement worker), whose value is ``func``'s
second argument, and which is never pickled."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import rowpool

pytestmark = pytest.mark.timeout(90)


def frame(n=40):
    return pd.DataFrame({"a": np.arange(n, dtype=np.int64), "b": np.arange(n) * 0.5})


def logging_init(path):
    """An init that appends its process id to ``path`` and returns a state that refuses pickling."""

    def init():
        import os as _os
        import threading

        with open(path, "a") as log:
            log.write(f"{_os.getpid()}\n")
        return {"pid": _os.getpid(), "lock": threading.Lock(), "offset": 100}

    return init


def pid_and_value(row, state, scale, *, shift=0):
    import os as _os

    assert state["pid"] == _os.getpid()  # this worker's own state
    return row["a"] * scale + state["offset"] + shift


def test_init_runs_once_per_worker_not_per_chunk_and_is_never_pickled(tmp_path):
    df = frame()
    log = tmp_path / "inits"
    # 40 one-row chunks over 2 workers; the state holds a lock, which cannot be pickled.
    result = rowpool.apply(
        df, pid_and_value, init=logging_init(log), args=(2,), kwargs={"shift": 1}, chunk_rows=1, workers=2
    )
    expected = df.apply(lambda r: r["a"] * 2 + 100 + 1, axis=1)
    pd.testing.assert_series_equal(result, expected)
    pids = log.read_text().split()
    assert len(pids) == 2 and len(set(pids)) == 2 and str(os.getpid()) not in pids


def test_init_state_reaches_map_batches(tmp_path):
    df = frame(12)
    log = tmp_path / "inits"

    def scaled(chunk, state):
        return chunk["a"] * 3 + state["offset"]

    result = rowpool.map_batches(df, scaled, init=logging_init(log), chunk_rows=2, workers=2)
    pd.testing.assert_series_equal(result, df["a"] * 3 + 100)
    assert len(log.read_text().split()) == 2


def test_init_runs_again_in_a_replacement_worker(tmp_path):
    df = frame(10)
    log = tmp_path / "inits"
    flag = tmp_path / "died"

    def die_once_on_5(row, state):
        import os as _os

        if row["a"] == 5 and not _os.path.exists(flag):
            open(flag, "w").close()
            _os._exit(3)
        return (state["pid"] == _os.getpid()) * 1

    result = rowpool.apply(df, die_once_on_5, init=logging_init(log), workers=1, chunk_rows=2)
    assert result.tolist() == [1] * 10  # every row saw its own worker's state
    assert len(set(log.read_text().split())) == 2  # the first worker, then its replacement


@pytest.mark.tiny_jobs_in_process
def test_init_runs_once_in_the_calling_process_for_a_tiny_job(tmp_path):
    log = tmp_path / "inits"
    df = frame(5)
    result = rowpool.apply(df, pid_and_value, init=logging_init(log), args=(1,))
    pd.testing.assert_series_equal(result, df.apply(lambda r: r["a"] + 100, axis=1))
    assert log.read_text().split() == [str(os.getpid())]


def failing_init():
    raise FileNotFoundError("model.bin")


@pytest.mark.parametrize("in_process", [False, True])
def test_init_that_raises_gives_init_error(in_process):
    with pytest.raises(rowpool.InitError, match="FileNotFoundError: model.bin") as info:
        rowpool.apply(frame(4), pid_and_value, init=failing_init, in_process=in_process)
    assert "failing_init" in info.value.worker_traceback


def test_init_argument_check():
    with pytest.raises(TypeError, match="init must be callable"):
        rowpool.apply(frame(), pid_and_value, init=42)


def test_init_on_an_empty_frame_passes_its_state_like_pandas_args():
    df = frame(0)
    result = rowpool.apply(df, lambda row, state: state, init=lambda: 7)
    pd.testing.assert_series_equal(result, df.apply(lambda row, state: state, axis=1, args=(7,)))


def test_init_with_a_reused_pool_runs_once_per_worker_per_job(tmp_path, pool):
    log = tmp_path / "inits"
    for _ in range(2):
        pool.apply(frame(8), pid_and_value, init=logging_init(log), args=(1,), chunk_rows=1)
    assert len(log.read_text().split()) == 2 * pool.workers
