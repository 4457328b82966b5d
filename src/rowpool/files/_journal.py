"""The resume journal of one output file: which rows are committed, and where their results are.

A file job keeps its state in a directory beside the output, ``<output>.rowpool-resume/``:

    journal            a header record, then one record per committed window, then "done"
    part-000000.arrows the results of one window (an Arrow IPC stream), written before its record

A record is ``[length: u32][crc32: u32][JSON payload]``, little-endian, and names its part file
with the part's size and CRC-32. The journal is only appended to. ``Journal.open`` trusts nothing
it did not check: it keeps the records up to the first torn or corrupt one (short, or failing its
checksum), and of those the ones whose part file has the recorded size and checksum, in row order;
the rest (and any part file without a kept record) is dropped and cut off, and its rows run again.

Durability. A SIGKILL loses nothing written (the kernel's page cache outlives the process), so
what was committed before it is what a resume finds. After a power loss, what the disk kept may
be any prefix of the journal with parts that never reached the disk, or reached it half written:
the checks above turn that into a shorter run of intact windows, never into wrong rows, whatever
order the writes reached the disk in. So fsync is not what makes a resume correct, only what
bounds the work a power loss can undo: the journal fsyncs its new part files, its directory and
itself together (a group commit, ``sync``) once ``SYNC_SECONDS`` have passed since the last one,
and when a run stops with an error. A job that completes pays no fsync here: its output is
fsynced once, before it is renamed into place (``_output.OutputTarget.publish``), and then the
journal is removed.

Owned by the parent process; used by one thread at a time.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import time
import zlib
from dataclasses import dataclass

VERSION = 1
HEADER = struct.Struct("<II")  # payload length, CRC-32 of the payload
JOURNAL_NAME = "journal"
CRC_BLOCK = 1 << 20
SYNC_SECONDS = 1.0  # a power loss undoes at most about this much committed work (see above)


def resume_dir(output: str) -> str:
    """The directory holding the journal and parts of ``output``."""
    return output + ".rowpool-resume"


def file_crc(path: str) -> int:
    """CRC-32 of a whole file, read in 1 MiB blocks."""
    crc = 0
    with open(path, "rb") as f:
        while block := f.read(CRC_BLOCK):
            crc = zlib.crc32(block, crc)
    return crc


def fsync_path(path: str, flags: int = os.O_RDONLY) -> None:
    """Makes the data of the file ``path`` (with ``os.O_DIRECTORY``: the entries of the directory
    ``path``, its renames and new files) durable."""
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str) -> None:
    """Makes the directory entries of ``path`` (renames, new files) durable."""
    fsync_path(path, os.O_RDONLY | os.O_DIRECTORY)


def encode_record(payload: dict) -> bytes:
    """One journal record: length, checksum, then the payload as compact JSON."""
    data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return HEADER.pack(len(data), zlib.crc32(data)) + data


def decode_records(data: bytes) -> list[tuple[dict, int]]:
    """The intact records at the start of ``data``, each with the offset where it ends. Decoding
    stops at the first torn or corrupt record: nothing after it can be trusted."""
    records, position = [], 0
    while position + HEADER.size <= len(data):
        length, crc = HEADER.unpack_from(data, position)
        start, end = position + HEADER.size, position + HEADER.size + length
        if end > len(data) or zlib.crc32(data[start:end]) != crc:
            break
        try:
            records.append((json.loads(data[start:end]), end))
        except ValueError:
            break
        position = end
    return records


@dataclass(frozen=True)
class Part:
    """A committed window: rows [begin, end) of the input, their results in ``name``, and its
    failed rows as [position, exception type, message, traceback] lists."""

    begin: int
    end: int
    name: str
    size: int
    crc: int
    failures: list

    def record(self) -> dict:
        return {"part": [self.begin, self.end, self.name, self.size, self.crc], "failures": self.failures}


class Journal:
    """The committed windows of a job writing ``output`` (see the module docstring).

    ``Journal.create`` starts a new one (removing any old state); ``Journal.open`` reopens one to
    resume, checking that it belongs to the same job (``fingerprint``)."""

    def __init__(self, directory: str, fingerprint: dict, parts: list[Part], done: bool = False):
        self.directory = directory
        self.fingerprint = fingerprint
        self.parts = parts
        self.done = done
        self.unsynced: list[str] = []  # part files written since the last sync
        self.synced_at = time.monotonic()
        self.created = False  # the directory's own entry is not durable yet

    @property
    def rows(self) -> int:
        """Rows of the input committed so far (the parts cover [0, rows) without gaps)."""
        return self.parts[-1].end if self.parts else 0

    @property
    def failures(self) -> list:
        """Every failed row recorded so far, in row order."""
        return [f for p in self.parts for f in p.failures]

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    @classmethod
    def create(cls, output: str, fingerprint: dict) -> Journal:
        directory = resume_dir(output)
        if os.path.lexists(directory):
            shutil.rmtree(directory)
        os.mkdir(directory)
        journal = cls(directory, fingerprint, [])
        journal.created = True
        # Not fsynced: a journal that a power loss takes before its first sync is one that was
        # never created, and a run starts again from row 0.
        journal._append({"version": VERSION, "fingerprint": fingerprint}, create=True)
        return journal

    @classmethod
    def open(cls, output: str, fingerprint: dict) -> Journal | None:
        """The journal of ``output`` when there is one, trimmed to what is intact; None if there is
        none. ValueError when it records a different job."""
        directory = resume_dir(output)
        path = os.path.join(directory, JOURNAL_NAME)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        records = decode_records(data)
        if not records or records[0][0].get("version") != VERSION:
            return None  # killed while creating it: nothing was committed
        recorded = records[0][0]["fingerprint"]
        if recorded != fingerprint:
            raise ValueError(
                f"resume=True, but {directory} records a different job (input, columns, keep or "
                f"output format changed): {recorded} != {fingerprint}; pass overwrite=True to start again"
            )
        journal = cls(directory, fingerprint, [])
        intact = journal._load(records)
        if intact < len(data):
            with open(path, "r+b") as f:  # cut the torn tail, so appends follow intact records
                f.truncate(intact)
                os.fsync(f.fileno())
        journal._remove_strays()
        return journal

    def _load(self, records: list[tuple[dict, int]]) -> int:
        """Keeps the records (after the header) whose parts are intact and follow each other;
        returns the bytes of the journal they span."""
        intact = records[0][1]
        for record, end in records[1:]:
            if record.get("done"):
                self.done = True
            elif not self._adopt(Part(*record["part"], record["failures"])):  # type: ignore[call-arg]
                break
            intact = end
        return intact

    def _adopt(self, part: Part) -> bool:
        path = self.path(part.name)
        if part.begin != self.rows or not os.path.exists(path) or os.path.getsize(path) != part.size:
            return False
        if file_crc(path) != part.crc:
            return False
        self.parts.append(part)
        return True

    def _remove_strays(self) -> None:
        """Removes part files no kept record names (written, but not committed, before a kill)."""
        kept = {p.name for p in self.parts} | {JOURNAL_NAME}
        for name in os.listdir(self.directory):
            if name not in kept:
                os.unlink(self.path(name))

    def new_part_name(self) -> str:
        return f"part-{len(self.parts):06d}.arrows"

    def commit(self, begin: int, end: int, data, failures: list) -> Part:
        """Commits rows [begin, end) whose results are ``data`` (a bytes-like part file): writes
        the part file, then appends the record; from then on those rows count as done (durable
        with the next ``sync``, which runs here once ``SYNC_SECONDS`` have passed since the last)."""
        if begin != self.rows:
            raise ValueError(f"window [{begin}, {end}) does not follow the committed rows [0, {self.rows})")
        view = memoryview(data)
        part = Part(begin, end, self.new_part_name(), view.nbytes, zlib.crc32(view), failures)
        path = self.path(part.name)
        with open(path, "wb") as f:  # a part left by a killed run was removed by open or create
            f.write(view)
        self.unsynced.append(path)
        self._append(part.record())
        self.parts.append(part)
        if time.monotonic() - self.synced_at >= SYNC_SECONDS:
            self.sync()
        return part

    def sync(self) -> None:
        """Makes every commit so far durable: the new part files, then the directory holding their
        names, then the journal (see the module docstring)."""
        for path in self.unsynced:
            fsync_path(path)
        fsync_dir(self.directory)
        fsync_path(self.path(JOURNAL_NAME))
        if self.created:
            fsync_dir(os.path.dirname(self.directory) or ".")
            self.created = False
        self.unsynced = []
        self.synced_at = time.monotonic()

    def mark_done(self) -> None:
        """Records that every row is committed (the output is about to be renamed into place). Not
        fsynced: without it a resume finds every row committed and writes the output again."""
        self._append({"done": True})
        self.done = True

    def _append(self, payload: dict, create: bool = False) -> None:
        flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT | os.O_EXCL if create else 0)
        fd = os.open(self.path(JOURNAL_NAME), flags, 0o644)
        try:
            os.write(fd, encode_record(payload))
        finally:
            os.close(fd)

    def remove(self) -> None:
        """Deletes the journal and its parts (the output is complete and in place)."""
        shutil.rmtree(self.directory, ignore_errors=True)
