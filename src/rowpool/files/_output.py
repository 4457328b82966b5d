"""The output file of a job: format by extension, checks before any work, atomic publication.

The final file is written under a hidden temporary name in its own directory
(``.<name>.rowpool-tmp``), fsynced, then renamed into place: a failed or killed run never leaves
a file under the output's name, and a reader never sees a half-written one. The input is only
read; writing over it is refused.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".csv.gz": "csv.gz",
    ".arrow": "ipc",
    ".feather": "ipc",
    ".ipc": "ipc",
}


def output_format(path: str) -> str:
    """``"parquet"``, ``"csv"``, ``"csv.gz"`` or ``"ipc"``, from the extension of ``path``."""
    lowered = path.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if lowered.endswith(suffix):
            return FORMATS[suffix]
    raise ValueError(
        f"output must end with one of {', '.join(FORMATS)} (the format follows the extension), got {path!r}"
    )


@dataclass(frozen=True)
class OutputTarget:
    """Where a job's output goes: ``path``, its ``format``, and the temporary name it is written
    under until complete."""

    path: str
    format: str

    @property
    def temporary(self) -> str:
        directory, name = os.path.split(self.path)
        return os.path.join(directory, f".{name}.rowpool-tmp")

    @property
    def directory(self) -> str:
        return os.path.dirname(self.path) or "."

    @classmethod
    def check(cls, output, *, overwrite: bool, resume: bool, inputs: list[str]) -> OutputTarget:
        """The target of ``output`` after every check that needs no work: a known extension, not an
        input, a directory that exists and is writable, no existing file unless ``overwrite`` or
        ``resume`` allow it."""
        if not isinstance(output, (str, os.PathLike)):
            raise TypeError(f"output must be a path (str or os.PathLike), not {type(output).__name__}")
        path = os.path.abspath(os.fspath(output))
        target = cls(path, output_format(path))
        if os.path.exists(path) and any(os.path.exists(p) and os.path.samefile(p, path) for p in inputs):
            raise ValueError(f"output {path} is an input of the job; the input is never written to")
        if not os.path.isdir(target.directory):
            raise FileNotFoundError(errno.ENOENT, f"output directory {target.directory} does not exist", path)
        probe = os.path.join(target.directory, f".{os.path.basename(path)}.rowpool-probe")
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            os.unlink(probe)
        except OSError as error:
            raise type(error)(
                error.errno, f"output directory {target.directory} is not writable: {error.strerror}", path
            ) from error
        if os.path.exists(path) and not (overwrite or resume):
            raise FileExistsError(
                errno.EEXIST,
                f"output {path} exists; pass overwrite=True to replace it (or resume=True)",
                path,
            )
        return target

    def publish(self) -> None:
        """Moves the complete temporary file into place, durably (fsync file, rename, fsync dir)."""
        from ._journal import fsync_dir, fsync_path

        fsync_path(self.temporary)
        os.replace(self.temporary, self.path)
        fsync_dir(self.directory)

    def discard(self) -> None:
        """Removes the temporary file of a failed or interrupted write, if any."""
        try:
            os.unlink(self.temporary)
        except FileNotFoundError:
            pass


def writing_error(error: OSError, path: str) -> OSError:
    """``error`` (often without a file name, e.g. ENOSPC from pyarrow) re-raised naming ``path``."""
    code = error.errno
    if code is None:
        text = str(error)
        code = errno.ENOSPC if "No space left" in text else errno.EIO
    return OSError(code, f"writing {path} failed: {os.strerror(code)} ({error})", path)


def output_rows(target: OutputTarget) -> int:
    """The rows of a complete output file (read from its metadata; a CSV file is counted)."""
    import pyarrow as pa

    if target.format == "parquet":
        import pyarrow.parquet as pq

        return pq.read_metadata(target.path).num_rows
    if target.format == "ipc":
        with pa.ipc.open_file(pa.memory_map(target.path)) as reader:
            return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
    import pyarrow.csv as csv

    return sum(batch.num_rows for batch in csv.open_csv(target.path))
