"""rowpool on Dask: a dask DataFrame in (lazy result), and cluster= jobs on a LocalCluster (loopback,
processes): equality with the local path, once-per-row calls, output parts with a manifest, resume,
and the two faults: a Dask worker SIGKILLed mid-task, and a rowpool child of a Dask worker
SIGKILLed mid-task."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import cloudpickle
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pandas.testing as pdt
import psutil
import pytest
from distributed import Client, LocalCluster

import rowpool
from process_helpers import wait_until
from rowpool.dask import _plugin

pytestmark = pytest.mark.timeout(120)

# The Dask workers cannot import this test module: its functions travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

_clients: list = []  # the module's client while it is open


def _cluster_tree() -> set[int]:
    """The Dask worker processes of the module's cluster (the nannies live in this process), their
    rowpool children, and multiprocessing's resource tracker that LocalCluster started."""
    from multiprocessing import resource_tracker

    pids = {resource_tracker._resource_tracker._pid}
    for client in _clients:
        client.wait_for_workers(2, timeout=60)  # a killed worker's replacement
        for pid in worker_pids(client):
            pids |= {pid} | {c.pid for c in psutil.Process(pid).children(recursive=True)}
    return pids


@pytest.fixture(autouse=True)
def _no_leaks_after_test():
    """conftest's check after each test, allowing the module's cluster (its Dask workers and their
    rowpool children); conftest checks that all is gone at module end."""
    yield
    _plugin.close_process_pool()
    rowpool.shutdown()  # the default pool (local runs computing the expected results)
    me = psutil.Process()

    def left():
        allowed = _cluster_tree()
        return [
            c
            for c in me.children(recursive=True)
            if c.pid not in allowed and c.status() != psutil.STATUS_ZOMBIE
        ]

    wait_until(lambda: not left(), 10.0, 0.1)
    assert not left(), f"processes left: {[' '.join(p.cmdline())[:100] for p in left()]}"


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # its HTTP server (always started) on loopback
        silence_logs=50,
    )
    with cluster, Client(cluster, timeout=60) as c:
        _clients.append(c)
        yield c
        _clients.clear()


@pytest.fixture(autouse=True, scope="module")
def _stop_resource_tracker():
    """A LocalCluster starts multiprocessing's resource tracker in this process; it would outlive
    the module (conftest checks after the module's fixtures that nothing does)."""
    yield
    from multiprocessing import resource_tracker

    resource_tracker._resource_tracker._stop()


def frame(rows=200):
    rng = np.random.default_rng(5)
    return pd.DataFrame(
        {"a": np.arange(rows), "b": rng.random(rows), "s": [f"s{i % 7}" for i in range(rows)]},
        index=pd.Index(np.arange(rows) * 3 + 10, name="key"),
    )


def f(row):
    return row["a"] * 2 + row["b"]


def wide(row):
    return pd.Series({"twice": row["a"] * 2, "tag": row["s"] + "!"})


def logged(log, body, delay=0.0):
    """``body`` that appends the row's label to ``log`` (one line per call, from any process)."""

    def run(row):
        with open(log, "a") as out:
            out.write(f"{row.name}\n")
        if delay:
            time.sleep(delay)
        return body(row)

    return run


def calls(log) -> Counter:
    if not os.path.exists(log):
        return Counter()
    with open(log) as f:
        return Counter(int(line) for line in f.read().split())


def worker_pids(client) -> list[int]:
    return sorted(client.run(os.getpid).values())


# ----------------------------------------------------------------------------- packaging
def test_import_rowpool_does_not_import_dask_and_without_distributed_the_error_says_what_to_install():
    code = (
        "import sys, rowpool\n"
        "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))\n"
        "sys.modules['distributed'] = None  # as if not installed\n"
        "import pandas as pd\n"
        "try:\n"
        "    rowpool.apply(pd.DataFrame({'a': [1]}), abs, cluster='tcp://127.0.0.1:1')\n"
        "except ImportError as e:\n"
        "    print(type(e).__name__, e)\n"
        "import dask.dataframe as dd  # dask without distributed: its local schedulers work\n"
        "ddf = dd.from_pandas(pd.DataFrame({'a': [-1, 2, -3]}), npartitions=2)\n"
        "print(rowpool.apply(ddf, lambda r: abs(r['a'])).compute(scheduler='sync').tolist())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    imported, error, local = out.stdout.splitlines()
    assert imported == "[]", out.stderr
    assert error.startswith("DaskMissing") and 'pip install "rowpool[dask]"' in error
    assert local == "[1, 2, 3]"


# ----------------------------------------------------------------------------- dask DataFrame in
def test_dask_frame_gives_lazy_result_and_runs_func_once_per_row(tmp_path):
    df = frame()
    log = str(tmp_path / "calls")
    lazy = rowpool.apply(dd.from_pandas(df, npartitions=4), logged(log, f))
    assert isinstance(lazy, dd.Series)
    assert calls(log) == Counter({10: 1})  # meta came from the first real row, run once
    pdt.assert_series_equal(lazy.compute(scheduler="threads"), df.apply(f, axis=1))
    assert calls(log) == Counter(df.index.tolist())  # the first row was not run again


def test_dask_frame_on_the_cluster_with_meta_and_frame_results(client, tmp_path):
    df = frame()
    log = str(tmp_path / "calls")
    expected = df.apply(wide, axis=1)
    meta = expected.iloc[:0]
    lazy = rowpool.apply(dd.from_pandas(df, npartitions=5), logged(log, wide), meta=meta)
    assert calls(log) == Counter()  # with meta= nothing runs before compute
    pdt.assert_frame_equal(client.compute(lazy).result(timeout=60), expected)
    assert calls(log) == Counter(df.index.tolist())


def test_dask_frame_map_batches_and_empty_partitions(client):
    df = frame(50)
    ddf = dd.from_pandas(df, npartitions=3)
    ddf = ddf[ddf.a >= 20]  # the first partition is empty
    lazy = rowpool.map_batches(ddf, lambda chunk: chunk["a"] + chunk["b"])
    expected = df[df.a >= 20]
    pdt.assert_series_equal(client.compute(lazy).result(timeout=60), expected["a"] + expected["b"])


def test_dask_frame_rejects_options_that_do_not_apply():
    ddf = dd.from_pandas(frame(10), npartitions=2)
    with pytest.raises(ValueError, match="cluster="):
        rowpool.apply(ddf, f, cluster="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="output="):
        rowpool.apply(ddf, f, output="x.parquet")
    with pytest.raises(ValueError, match="collect"):
        rowpool.apply(ddf, f, errors="collect")


# ----------------------------------------------------------------------------- cluster=
def test_cluster_frame_equals_local_path(client):
    df = frame(300)
    pdt.assert_series_equal(rowpool.apply(df, f, cluster=client), rowpool.apply(df, f))
    pdt.assert_frame_equal(rowpool.apply(df, wide, cluster=client), df.apply(wide, axis=1))
    batches = rowpool.map_batches(df, lambda c: c["a"] * 3, cluster=client)
    pdt.assert_series_equal(batches, df["a"] * 3)


def bad_row(row):
    if row["a"] in (70, 250):
        raise KeyError(f"bad {row['a']}")
    return row["a"]


def test_cluster_errors_like_the_local_path(client):
    df = frame(300)
    with pytest.raises(KeyError) as raised:
        rowpool.apply(df, bad_row, cluster=client)
    assert isinstance(raised.value, rowpool.RowError)
    assert (raised.value.label, raised.value.position) == (df.index[70], 70)
    result, failures = rowpool.apply(df, bad_row, cluster=client, errors="collect")
    local, local_failures = rowpool.apply(df, bad_row, errors="collect")
    pdt.assert_series_equal(result, local)
    assert failures.index.tolist() == local_failures.index.tolist() == [df.index[70], df.index[250]]


def test_cluster_options_checked():
    with pytest.raises(TypeError, match="distributed.Client"):
        rowpool.apply(frame(10), f, cluster="tcp://127.0.0.1:1")


def test_cluster_parquet_equals_local_path(client, tmp_path):
    path = str(tmp_path / "in.parquet")
    frame(1000).reset_index().to_parquet(path, row_group_size=100)
    expected = rowpool.apply(path, f)
    pdt.assert_series_equal(rowpool.apply(path, f, cluster=client), expected)
    with pytest.raises(TypeError, match="every worker can read"):
        rowpool.apply(pd.read_parquet(path).to_dict(), f, cluster=client)


def read_parts(directory):
    manifest = json.load(open(os.path.join(directory, "_manifest.json")))
    parts = [pd.read_parquet(os.path.join(directory, p["path"])) for p in manifest["parts"]]
    return manifest, pd.concat(parts, ignore_index=True)


def test_cluster_output_parts_manifest_and_resume(client, tmp_path):
    path = str(tmp_path / "in.parquet")
    df = frame(800).reset_index()
    df.to_parquet(path, row_group_size=100)
    out = str(tmp_path / "out.parquet")
    log = str(tmp_path / "calls")
    summary = rowpool.apply(path, logged(log, f), cluster=client, output=out, keep=("key",))
    assert summary.rows == 800 and summary.failures == 0
    manifest, written = read_parts(out)
    assert manifest["rows"] == 800 and len(manifest["parts"]) == 8  # one per 100-row group
    assert written["key"].tolist() == df["key"].tolist()
    np.testing.assert_allclose(written.iloc[:, -1], df["a"] * 2 + df["b"])
    assert calls(log) == Counter(range(800))
    with pytest.raises(FileExistsError):
        rowpool.apply(path, f, cluster=client, output=out)
    # A job killed after part 3 committed: resume runs only the parts not committed.
    os.unlink(os.path.join(out, "_manifest.json"))
    for n in (4, 6):
        os.unlink(os.path.join(out, f".part-{n:05d}.done.json"))
        os.unlink(os.path.join(out, f"part-{n:05d}.parquet"))
    os.unlink(log)
    summary = rowpool.apply(path, logged(log, f), cluster=client, output=out, keep=("key",), resume=True)
    assert summary.rows == 800
    assert calls(log) == Counter(list(range(400, 500)) + list(range(600, 700)))
    assert read_parts(out)[1].equals(written)


# ----------------------------------------------------------------------------- faults
def _kill_when_started(log, victims, started_rows=20):
    """SIGKILLs the pids ``victims()`` returns once ``started_rows`` rows ran; returns them."""
    assert wait_until(lambda: sum(calls(log).values()) >= started_rows, 60, 0.01), "the job never started"
    pids = victims()
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids


def _run_killing(client, job, log, victims):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as runner:
        running = runner.submit(job)
        killed = _kill_when_started(log, victims)
        return running.result(timeout=100), killed


def one_dask_worker(client):
    return lambda: worker_pids(client)[:1]


def one_rowpool_child(client):
    def find():
        children = [c.pid for pid in worker_pids(client) for c in psutil.Process(pid).children()]
        return children[:1]

    return find


@pytest.mark.parametrize("victim", [one_dask_worker, one_rowpool_child])
def test_sigkill_mid_task_in_memory(client, tmp_path, victim):
    df = frame(400)
    log = str(tmp_path / "calls")
    job = lambda: rowpool.apply(df, logged(log, f, delay=0.01), cluster=client)  # noqa: E731
    before = worker_pids(client)
    result, killed = _run_killing(client, job, log, victim(client))
    pdt.assert_series_equal(result, df.apply(f, axis=1))
    assert set(calls(log)) == set(df.index)
    if victim is one_rowpool_child:  # rowpool re-ran only that child's row: once per row but one
        assert sum(calls(log).values()) <= len(df) + 1
        assert worker_pids(client) == before
    client.wait_for_workers(2, timeout=60)


@pytest.mark.parametrize("victim", [one_dask_worker, one_rowpool_child])
def test_sigkill_mid_task_output_holds_each_row_once(client, tmp_path, victim):
    path = str(tmp_path / "in.parquet")
    df = frame(400).reset_index()
    df.to_parquet(path, row_group_size=50)
    out = str(tmp_path / "out.parquet")
    log = str(tmp_path / "calls")
    job = lambda: rowpool.apply(  # noqa: E731
        path, logged(log, f, delay=0.01), cluster=client, output=out, keep=("key",)
    )
    summary, _killed = _run_killing(client, job, log, victim(client))
    assert summary.rows == 400
    _manifest, written = read_parts(out)
    assert written["key"].tolist() == df["key"].tolist()  # each row once, in order
    np.testing.assert_allclose(written.iloc[:, -1], df["a"] * 2 + df["b"])
    assert not glob.glob(os.path.join(out, "*tmp*"))
    client.wait_for_workers(2, timeout=60)


# ----------------------------------------------------------------------------- memory limit
def test_child_memory_limit_is_half_the_worker_limit_split_over_children():
    assert _plugin.child_memory_limit(None, 2) is None
    assert _plugin.child_memory_limit(0, 2) is None
    assert _plugin.child_memory_limit(4 << 30, 2) == 1 << 30
    assert _plugin.child_memory_limit(300 << 20, 2) == 128 << 20  # rowpool's minimum


def hog(row):
    """Row 3 holds 700 MB (touched, so resident) for a while; the others are cheap."""
    if row["a"] == 3:
        block = bytearray(700 << 20)
        block[:: 1 << 12] = b"x" * len(block[:: 1 << 12])
        time.sleep(3)
        return len(block)
    return row["a"]


def test_a_child_past_its_share_of_the_worker_memory_limit_is_stopped():
    """The nanny would not see a rowpool child's memory (bench/nanny_memory.py): rowpool stops
    the child holding more than its share of the Dask worker's limit, and reports the row."""
    df = frame(8)
    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            memory_limit=800 << 20,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            silence_logs=50,
        ) as cluster,
        Client(cluster, timeout=60) as client,
    ):
        limit = client.submit(lambda: _plugin.pool_here().max_worker_memory, pure=False).result(60)
        assert limit == 400 << 20
        result, failures = rowpool.apply(df, hog, cluster=client, errors="collect", retries=0)
    assert failures.index.tolist() == [df.index[3]]
    assert failures["exception"].tolist() == ["rowpool.WorkerLost"]
    assert result.drop(df.index[3]).tolist() == [0, 1, 2, 4, 5, 6, 7]


def test_dask_frame_with_init_and_coerce(client):
    df = frame(60)
    ddf = dd.from_pandas(df, npartitions=3)

    def scaled(row, factor):
        if row["a"] == 33:
            raise ValueError("bad row")
        return row["a"] * factor

    lazy = rowpool.apply(ddf, scaled, init=lambda: 10, errors="coerce")
    result = client.compute(lazy).result(timeout=60)
    expected = (df["a"] * 10).astype("float64").rename(None)
    expected[df.index[33]] = np.nan
    pdt.assert_series_equal(result, expected)


def test_cluster_csv_and_arrow_ipc_equal_local_path(client, tmp_path):
    df = frame(300).reset_index()
    csv, ipc = str(tmp_path / "in.csv"), str(tmp_path / "in.arrow")
    df.to_csv(csv, index=False)
    df.to_feather(ipc)
    for path in (csv, ipc):
        pdt.assert_series_equal(rowpool.apply(path, f, cluster=client), rowpool.apply(path, f))
    projected = rowpool.apply(ipc, lambda r: r["a"] + 1, cluster=client, columns=["a"])
    pdt.assert_series_equal(projected, rowpool.apply(ipc, lambda r: r["a"] + 1, columns=["a"]))
