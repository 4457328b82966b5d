"""The output written while the job runs (``_stream``): the same bytes as the output assembled from
the parts at the end, also when a run is interrupted and resumed, and when a later window changes a
column's type (the stream stops; the output is assembled). No workers: the FileSink is fed
windows' results directly."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rowpool.files import _writers
from rowpool.files._journal import Journal
from rowpool.files._output import OutputTarget
from rowpool.files._sinks import FileSink
from rowpool.files._stream import OutputStream
from rowpool.files._windows import Window
from rowpool.files._writers import assemble, part_bytes

FINGERPRINT = {"test": "stream"}
WINDOWS = [(0, 700), (700, 1500), (1500, 2600), (2600, 4000), (4000, 4321)]


@pytest.fixture(autouse=True)
def small_row_groups(monkeypatch):
    """Row groups of 1,000 rows: most are written while windows are still coming."""
    monkeypatch.setattr(_writers, "ROW_GROUP_ROWS_RANGE", (1_000, 1_000))


def _results(begin: int, end: int, floats_from: int | None) -> pd.Series:
    values = np.arange(begin, end, dtype=np.int64) * 3
    if floats_from is not None and begin >= floats_from:
        return pd.Series(values + 0.5)
    return pd.Series(values)


def _run(
    output: str, *, stop_after: int | None = None, floats_from: int | None = None, rows: int | None = None
) -> FileSink:
    """Commits the windows not committed yet; ``stop_after``: stops after that many windows, as a
    run that was killed (its journal left for a resume), else publishes the output. ``rows``: the
    input's rows, told to the sink (the last window is then streamed only)."""
    target = OutputTarget.check(output, overwrite=True, resume=True, inputs=[])
    journal = Journal.open(output, FINGERPRINT) or Journal.create(output, FINGERPRINT)
    sink = FileSink(target, journal, rows)
    for number, (begin, end) in enumerate(w for w in WINDOWS if w[0] >= journal.rows):
        if number == stop_after:
            sink.close()
            return sink
        sink.add(Window(begin, end, None, None), _results(begin, end, floats_from), [])
    sink.finish()
    return sink


@pytest.mark.parametrize("fmt", ["parquet", "arrow", "csv"])
@pytest.mark.parametrize("floats_from", [None, 2600])
def test_the_streamed_output_is_the_assembled_one_also_after_a_resume(tmp_path, fmt, floats_from):
    whole = str(tmp_path / f"whole.{fmt}")
    sink = _run(whole, floats_from=floats_from)
    assert sink.stream.stopped == (floats_from is not None)  # int64 results, then float64 ones
    parts = [part_bytes(pa.table({"result": _results(b, e, floats_from).to_numpy()})) for b, e in WINDOWS]
    paths = []
    for number, data in enumerate(parts):
        paths.append(str(tmp_path / f"part-{number}"))
        with open(paths[-1], "wb") as f:
            f.write(data)
    assembled = str(tmp_path / f"assembled.{fmt}")
    assemble(paths, _writers_format(fmt), assembled)
    reference = open(assembled, "rb").read()
    assert open(whole, "rb").read() == reference
    for stop_after in (1, 3):
        resumed = str(tmp_path / f"resumed-{stop_after}.{fmt}")
        stopped = _run(resumed, stop_after=stop_after, floats_from=floats_from)
        assert not os.path.exists(resumed)
        stopped.stream.stop()  # as the kill would have left it: the next run rewrites the file
        _run(resumed, floats_from=floats_from)
        assert open(resumed, "rb").read() == reference, f"stopped after {stop_after} windows"
    if fmt == "parquet":
        metadata = pq.read_metadata(whole)
        assert [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)] == [1_000] * 4 + [321]


def _writers_format(fmt: str) -> str:
    return {"parquet": "parquet", "arrow": "ipc", "csv": "csv"}[fmt]


def test_row_groups_are_written_before_the_last_window(tmp_path):
    output = str(tmp_path / "out.parquet")
    sink = _run(output, stop_after=3)
    temporary = OutputTarget(output, "parquet").temporary
    sink.stream.writer.abandon()  # the footer without the buffered rows: what is written so far
    metadata = pq.read_metadata(temporary)
    assert metadata.num_rows == 2_000  # 2,600 rows committed: two full row groups of 1,000


def test_a_column_all_missing_so_far_stops_the_stream(tmp_path):
    stream = OutputStream("parquet", str(tmp_path / "out.parquet"))
    stream.add(part_bytes(pa.table({"result": pa.array([None, None], pa.null())})))
    assert stream.stopped and not stream.complete(1)
    assert not os.path.exists(stream.path)


def test_a_stopped_run_leaves_no_temporary_output(tmp_path):
    output = str(tmp_path / "out.parquet")
    sink = _run(output, stop_after=2)
    temporary = OutputTarget(output, "parquet").temporary
    assert os.path.exists(temporary)  # streamed so far
    sink.close(stopped=True)
    assert not os.path.exists(temporary)
    assert Journal.open(output, FINGERPRINT).rows == 1_500  # and the journal kept for a resume


@pytest.mark.parametrize("floats_from", [None, 4000])
def test_the_last_window_is_streamed_only_and_runs_again_on_resume(tmp_path, monkeypatch, floats_from):
    """The window ending the input gets no part file: a run stopped before its output is in place
    (here: the rename fails) runs it again when resumed, and the output is the one of a run that
    committed every window. A last window that changes a column's type is committed (the output
    is assembled from the parts)."""
    whole = str(tmp_path / "whole.parquet")
    _run(whole, floats_from=floats_from)
    output = str(tmp_path / "out.parquet")
    publish = OutputTarget.publish

    def failing_publish(self):
        raise OSError(5, "the rename failed")

    monkeypatch.setattr(OutputTarget, "publish", failing_publish)
    with pytest.raises(OSError, match="the rename failed"):
        _run(output, floats_from=floats_from, rows=4321)
    journal = Journal.open(output, FINGERPRINT)
    assert journal is not None and journal.done == (floats_from is not None)
    assert journal.rows == (4000 if floats_from is None else 4321)
    monkeypatch.setattr(OutputTarget, "publish", publish)
    sink = _run(output, floats_from=floats_from, rows=4321)
    assert sink.rows == 4321
    with open(whole, "rb") as a, open(output, "rb") as b:
        assert a.read() == b.read()
    assert not os.path.exists(os.path.dirname(journal.path("x")))
