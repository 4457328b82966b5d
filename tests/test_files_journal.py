"""The resume journal and the output file's checks and atomic publication (no workers)."""

from __future__ import annotations

import os

import pytest

from rowpool.files import _journal
from rowpool.files._journal import JOURNAL_NAME, Journal, decode_records, encode_record, resume_dir
from rowpool.files._output import OutputTarget, output_format

FINGERPRINT = {"parquet": [["/data/in.parquet", 10, 1]], "columns": ["a"]}


def _commit(journal: Journal, begin: int, end: int, payload: bytes = b"rows") -> None:
    data = payload * (end - begin + 1)
    journal.commit(begin, end, data, failures=[] if begin else [[0, "ValueError", "bad", "tb"]])


@pytest.fixture
def output(tmp_path):
    return str(tmp_path / "out.parquet")


def test_records_round_trip_and_stop_at_a_torn_or_corrupt_record():
    records = [{"a": 1}, {"b": [1, 2]}, {"c": "x"}]
    data = b"".join(encode_record(r) for r in records)
    assert [r for r, _ in decode_records(data)] == records
    assert [r for r, _ in decode_records(data[:-1])] == records[:2]  # torn last record
    corrupt = bytearray(data)
    corrupt[len(encode_record(records[0])) + 10] ^= 0xFF  # a flipped bit in the second record
    assert [r for r, _ in decode_records(bytes(corrupt))] == records[:1]


def test_committed_windows_survive_reopening(output):
    journal = Journal.create(output, FINGERPRINT)
    _commit(journal, 0, 5)
    _commit(journal, 5, 9)
    reopened = Journal.open(output, FINGERPRINT)
    assert reopened.rows == 9
    assert [(p.begin, p.end) for p in reopened.parts] == [(0, 5), (5, 9)]
    assert reopened.failures == [[0, "ValueError", "bad", "tb"]]
    assert not reopened.done


def test_a_torn_last_record_is_dropped_and_cut_off(output):
    journal = Journal.create(output, FINGERPRINT)
    _commit(journal, 0, 5)
    path = os.path.join(resume_dir(output), JOURNAL_NAME)
    intact = os.path.getsize(path)
    _commit(journal, 5, 9)
    with open(path, "r+b") as f:  # power loss in the middle of the second record
        f.truncate(intact + 7)
    reopened = Journal.open(output, FINGERPRINT)
    assert reopened.rows == 5
    assert os.path.getsize(path) == intact
    assert sorted(os.listdir(resume_dir(output))) == [JOURNAL_NAME, "part-000000.arrows"]
    _commit(reopened, 5, 9)  # appends after the intact records
    assert Journal.open(output, FINGERPRINT).rows == 9


def test_a_damaged_part_drops_its_record_and_every_later_one(output):
    journal = Journal.create(output, FINGERPRINT)
    for begin, end in ((0, 3), (3, 6), (6, 9)):
        _commit(journal, begin, end)
    with open(journal.path("part-000001.arrows"), "r+b") as f:
        f.write(b"X")  # same size, other bytes: the checksum tells
    reopened = Journal.open(output, FINGERPRINT)
    assert reopened.rows == 3
    assert sorted(os.listdir(resume_dir(output))) == [JOURNAL_NAME, "part-000000.arrows"]


def test_a_record_whose_part_never_reached_the_disk_is_dropped(output):
    """Commits are not fsynced one by one: after a power loss the journal may hold a record whose
    part file is empty or missing. That record and every later one are dropped, the rest kept."""
    journal = Journal.create(output, FINGERPRINT)
    for begin, end in ((0, 3), (3, 6), (6, 9)):
        _commit(journal, begin, end)
    with open(journal.path("part-000001.arrows"), "r+b") as f:
        f.truncate(0)  # its size reached the disk, its blocks did not
    assert Journal.open(output, FINGERPRINT).rows == 3
    os.unlink(journal.path("part-000000.arrows"))
    reopened = Journal.open(output, FINGERPRINT)
    assert reopened.rows == 0
    assert os.listdir(resume_dir(output)) == [JOURNAL_NAME]
    _commit(reopened, 0, 4)
    assert Journal.open(output, FINGERPRINT).rows == 4


class _Clock:
    def __init__(self):
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


def test_commits_are_fsynced_together_once_sync_seconds_passed(output, monkeypatch):
    clock, synced = _Clock(), []
    monkeypatch.setattr(_journal, "time", clock)
    monkeypatch.setattr(_journal, "fsync_path", lambda path, flags=os.O_RDONLY: synced.append(path))
    journal = Journal.create(output, FINGERPRINT)
    _commit(journal, 0, 3)
    clock.now += _journal.SYNC_SECONDS / 2
    _commit(journal, 3, 6)
    assert synced == []  # within SYNC_SECONDS: written, not fsynced
    clock.now += _journal.SYNC_SECONDS / 2
    _commit(journal, 6, 9)
    directory = resume_dir(output)
    parts = [journal.path(f"part-00000{i}.arrows") for i in range(3)]
    # the parts before the journal that names them; the directories' entries too (created once)
    assert synced == [*parts, directory, journal.path(JOURNAL_NAME), os.path.dirname(output)]
    synced.clear()
    _commit(journal, 9, 12)
    journal.sync()
    assert synced == [journal.path("part-000003.arrows"), directory, journal.path(JOURNAL_NAME)]


def test_uncommitted_files_are_removed_on_reopening(output):
    journal = Journal.create(output, FINGERPRINT)
    _commit(journal, 0, 2)
    with open(journal.path("part-000001.arrows.tmp"), "wb") as f:
        f.write(b"half a part")
    assert Journal.open(output, FINGERPRINT).rows == 2
    assert "part-000001.arrows.tmp" not in os.listdir(resume_dir(output))


def test_another_jobs_journal_is_refused(output):
    Journal.create(output, FINGERPRINT)
    with pytest.raises(ValueError, match="different job.*overwrite=True"):
        Journal.open(output, dict(FINGERPRINT, columns=["b"]))


def test_a_journal_killed_while_created_counts_as_none(output):
    os.mkdir(resume_dir(output))
    with open(os.path.join(resume_dir(output), JOURNAL_NAME), "wb") as f:
        f.write(encode_record({"version": 1, "fingerprint": FINGERPRINT})[:-3])
    assert Journal.open(output, FINGERPRINT) is None
    assert Journal.open(str(output) + ".other", FINGERPRINT) is None


def test_windows_must_follow_each_other(output):
    journal = Journal.create(output, FINGERPRINT)
    with pytest.raises(ValueError, match="does not follow"):
        _commit(journal, 1, 4)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.parquet", "parquet"),
        ("a.PQ", "parquet"),
        ("a.csv", "csv"),
        ("a.csv.gz", "csv.gz"),
        ("a.feather", "ipc"),
    ],
)
def test_the_output_format_follows_the_extension(name, fmt):
    assert output_format(name) == fmt


def test_an_unknown_extension_is_refused():
    with pytest.raises(ValueError, match=r"output must end with one of.*'a\.xlsx'"):
        output_format("a.xlsx")


def test_an_existing_output_needs_overwrite_or_resume(output):
    with open(output, "wb") as f:
        f.write(b"old")
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        OutputTarget.check(output, overwrite=False, resume=False, inputs=[])
    assert OutputTarget.check(output, overwrite=True, resume=False, inputs=[]).path == output
    assert OutputTarget.check(output, overwrite=False, resume=True, inputs=[]).format == "parquet"


def test_the_input_is_never_the_output(tmp_path):
    source = tmp_path / "data.parquet"
    source.write_bytes(b"PAR1")
    with pytest.raises(ValueError, match="is an input of the job"):
        OutputTarget.check(str(source), overwrite=True, resume=False, inputs=[str(source)])


def test_a_missing_output_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="output directory .*nowhere does not exist"):
        OutputTarget.check(str(tmp_path / "nowhere" / "o.csv"), overwrite=False, resume=False, inputs=[])


def test_publish_moves_the_complete_file_into_place(output):
    target = OutputTarget.check(output, overwrite=False, resume=False, inputs=[])
    assert os.path.basename(target.temporary).startswith(".")  # never looks like the output
    with open(target.temporary, "wb") as f:
        f.write(b"complete")
    target.publish()
    assert open(output, "rb").read() == b"complete"
    assert not os.path.exists(target.temporary)
