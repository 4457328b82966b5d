"""The output of a ``cluster=`` job: a directory of part files, one per part, and a manifest.

    out.parquet/                      (the output= path is a directory; parts take its extension)
        _rowpool_plan.json            the source's fingerprint and the parts' row ranges
        part-00000.parquet ...        written by the workers through the local file path (atomic,
                                      journalled: a part appears only when complete)
        .part-00000.done.json         written by the client once the part's task returned
        _manifest.json                written last, atomically: the job is complete

A part is committed when its ``.done.json`` exists; ``resume=True`` skips committed parts and
resubmits the others, whose own journals continue where a killed attempt stopped, so every row is
in the output exactly once. Resuming against a different source (fingerprint or parts) is an error.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import dataclass

from ..files._journal import fsync_dir
from ..files._output import FORMATS, output_format
from ._parts import Part

PLAN = "_rowpool_plan.json"
MANIFEST = "_manifest.json"


def _write_json(path: str, payload: dict) -> None:
    """``payload`` at ``path``, atomically and durably (temporary name, fsync, rename)."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w") as f:
        json.dump(payload, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    fsync_dir(os.path.dirname(path))


def _read_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def _failure_records(result) -> list:
    failed = getattr(result, "failed", None)
    if failed is None:
        return []
    return [
        [label if isinstance(label, int) else str(label), row.exception, row.message, row.traceback]
        for label, row in zip(failed.index.tolist(), failed.itertuples())
    ]


@dataclass
class PartFiles:
    """The part files of one output directory."""

    directory: str
    suffix: str
    parts: list[Part]

    @classmethod
    def open(cls, output, fingerprint: dict, parts: list[Part], *, resume: bool, overwrite: bool):
        if not isinstance(output, (str, os.PathLike)):
            raise TypeError(f"output must be a path (str or os.PathLike), not {type(output).__name__}")
        directory = os.path.abspath(os.fspath(output))
        fmt = output_format(directory)
        suffix = next(s for s in sorted(FORMATS, key=len, reverse=True) if directory.lower().endswith(s))
        assert FORMATS[suffix] == fmt
        plan = {"fingerprint": fingerprint, "parts": [[p.begin, p.end] for p in parts]}
        if os.path.exists(directory):
            if overwrite:
                shutil.rmtree(directory)
            elif not resume:
                raise FileExistsError(
                    errno.EEXIST, f"output {directory} exists; pass overwrite=True or resume=True", directory
                )
            elif json.loads(json.dumps(plan)) != _read_json(os.path.join(directory, PLAN)):
                raise ValueError(
                    f"output {directory} was written from another source or cut into other parts: "
                    "resume it with the same source and cluster size, or pass overwrite=True"
                )
        if not os.path.exists(directory):
            os.makedirs(directory)
            _write_json(os.path.join(directory, PLAN), plan)
        return cls(directory, suffix, parts)

    def part_path(self, part: Part) -> str:
        return os.path.join(self.directory, f"part-{part.number:05d}{self.suffix}")

    def _done_path(self, part: Part) -> str:
        return os.path.join(self.directory, f".part-{part.number:05d}.done.json")

    def pending(self) -> list[Part]:
        """The parts not committed yet."""
        return [p for p in self.parts if not os.path.exists(self._done_path(p))]

    def commit(self, part: Part, result) -> None:
        """Records that ``part``'s file is complete, with its rows and failures."""
        record = {"rows": result.rows, "failures": result.failures, "failed": _failure_records(result)}
        _write_json(self._done_path(part), record)

    def finish(self) -> dict:
        """Writes the manifest (every part committed): the job is complete. Returns it."""
        records = [_read_json(self._done_path(p)) for p in self.parts]
        manifest = {
            "parts": [
                {"path": os.path.basename(self.part_path(p)), "begin": p.begin, "rows": r["rows"]}
                for p, r in zip(self.parts, records)
            ],
            "rows": sum(r["rows"] for r in records),
            "failures": sum(r["failures"] for r in records),
            "failed": [f for r in records for f in r["failed"]],
            "directory": self.directory,
        }
        _write_json(os.path.join(self.directory, MANIFEST), manifest)
        return manifest


def summary(manifest: dict, errors: str, wall: float, resumed_rows: int = 0):
    """The FileJobSummary of a finished cluster job."""
    from ..files._job import FileJobSummary
    from ..files._sinks import journal_failures_frame

    failed = journal_failures_frame(manifest["failed"]) if errors == "collect" else None
    return FileJobSummary(
        manifest["directory"], manifest["rows"], manifest["failures"], wall, resumed_rows, failed
    )
