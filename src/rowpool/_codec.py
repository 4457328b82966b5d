"""Layout of a chunk inside the arena: a directory of (offset, length) pairs, then 64-byte aligned
buffers. A buffer is either a numpy column copied as raw bytes or a pickle (protocol 5).

    offset ─► [n][off_0 len_0]...[off_n-1 len_n-1] | pad | buffer 0 | pad | buffer 1 | ...

Offsets are relative to the chunk's start, so the same bytes decode anywhere the segment is mapped.
"""

from __future__ import annotations

import numpy as np

ALIGN = 64


def align(n: int) -> int:
    """``n`` rounded up to the 64-byte alignment of every buffer in the arena."""
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _nbytes(part) -> int:
    return part.nbytes if isinstance(part, np.ndarray) else len(part)


def packed_size(parts: list) -> int:
    """Bytes that ``pack`` needs for ``parts``."""
    return align(8 * (1 + 2 * len(parts))) + sum(align(_nbytes(p)) for p in parts)


def pack(memory: np.ndarray, offset: int, parts: list) -> int:
    """Writes ``parts`` (numpy arrays, bytes) at ``memory[offset:]``; returns the bytes used."""
    directory = np.empty(1 + 2 * len(parts), dtype=np.uint64)
    directory[0] = len(parts)
    position = align(directory.nbytes)
    for i, part in enumerate(parts):
        size = _nbytes(part)
        directory[1 + 2 * i] = position
        directory[2 + 2 * i] = size
        start = offset + position
        if isinstance(part, np.ndarray):
            target = np.ndarray(part.shape, dtype=part.dtype, buffer=memory, offset=start)
            np.copyto(target, part, casting="no")  # handles strided columns too
        else:
            memory[start : start + size] = np.frombuffer(part, dtype=np.uint8)
        position += align(size)
    memory[offset : offset + directory.nbytes] = directory.view(np.uint8)
    return position


def unpack(memory: np.ndarray, offset: int) -> list[np.ndarray]:
    """The buffers written by ``pack`` at ``offset``, as uint8 views (no copy)."""
    count = int(np.frombuffer(memory, dtype=np.uint64, count=1, offset=offset)[0])
    directory = np.frombuffer(memory, dtype=np.uint64, count=2 * count, offset=offset + 8)
    return [
        memory[offset + int(directory[2 * i]) : offset + int(directory[2 * i]) + int(directory[2 * i + 1])]
        for i in range(count)
    ]
