"""The worker's view of a str column that traveled as Arrow lays it out (a source's "utf8" parts,
see ``rowpool._source``)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import _core


class Utf8Column(NamedTuple):
    """A str column in the arena as Arrow lays it out (a source's "utf8" parts, see ``_source``): decoded to
    Python str, NaN where missing, only when a row reads it, without pandas or pyarrow."""

    offsets: np.ndarray
    valid: np.ndarray
    data: np.ndarray

    @classmethod
    def from_arrow(cls, array) -> Utf8Column:
        """A pyarrow string array as a Utf8Column of views of its buffers (of a large_string copy
        when its offsets are not int64 already). Needs pyarrow (the calling process only)."""
        import pyarrow as pa

        if array.type != pa.large_string():
            array = array.cast(pa.large_string())
        _, offsets_buffer, data_buffer = array.buffers()
        first = array.offset
        offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[first : first + len(array) + 1]
        data = np.empty(0, np.uint8) if data_buffer is None else np.frombuffer(data_buffer, dtype=np.uint8)
        return cls(offsets, array.is_valid().to_numpy(zero_copy_only=False).view(np.uint8), data)

    @classmethod
    def from_buffer(cls, buffer: np.ndarray, rows: int) -> Utf8Column:
        offsets_end = 8 * (rows + 1)
        valid_end = offsets_end + rows
        return cls(buffer[:offsets_end].view(np.int64), buffer[offsets_end:valid_end], buffer[valid_end:])

    def scalars(self):
        """The values (str, NaN where missing), boxed when a row reads them (``_core.ScalarColumn``)."""
        return _core.ScalarColumn.utf8(self.offsets, self.valid, self.data, np.nan)

    def values(self) -> list:
        return self.scalars().values()

    def copy(self) -> Utf8Column:
        """The column in memory of its own (not the arena's)."""
        return Utf8Column(self.offsets.copy(), self.valid.copy(), self.data.copy())
