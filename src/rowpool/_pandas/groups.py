"""The groups of a pandas GroupBy as rowpool's unit of work.

``GroupedFrame`` takes the rows pandas would hand to ``func`` (the frame, without the grouping
columns unless ``include_groups``) in an order where every group's rows are consecutive, largest
group first (after a few typical groups, see ``typical_first``), each group's rows in their
original order (as pandas' own splitter keeps them). A ``GroupTable`` shows that frame to the
dispatcher as a table whose *rows are groups*: the scheduler cuts chunks of whole groups, and a
chunk's column buffers reach the workers through the arena as any frame's do. The largest groups
are dispatched first, so one huge group starts at once on one worker, alone in its chunk
(``GroupTable.chunk_end``), while the others share the small ones (longest-processing-time-first
placement).

Empty groups (unobserved categories) have no rows to ship: ``func`` runs on them in the calling
process.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .chunk import Chunk
from .source import FrameSource

GROUP_COLUMN = "__rowpool_group__"  # each row's group number, appended to the frame workers see
SERIES_COLUMN = "__rowpool_values__"  # a SeriesGroupBy's values, as a column


def _group_ids(grouper) -> np.ndarray:
    """Each row's group number (-1: dropped, a NA key with ``dropna=True``)."""
    ids = getattr(grouper, "ids", None)  # pandas >= 3
    return np.asarray(ids if ids is not None else grouper.group_info[0], dtype=np.int64)


def _group_names(groupby, ngroups: int) -> list:
    """The ``name`` pandas pins on each group it hands to ``func``, in group order."""
    try:
        names = list(groupby._grouper.group_keys_seq)
    except (AttributeError, TypeError):
        names = None
    if names is None or len(names) != ngroups:  # pandas' own pass records them
        names = []
        groupby.apply(lambda group, *_a, **_k: names.append(group.name))
    return names


PROBE_GROUPS = 4  # typical groups placed before the largest, for the calling process to time


def typical_first(largest_first: np.ndarray) -> np.ndarray:
    """``largest_first`` with a few groups of median size moved to the front. The calling process
    may run a job's first groups to price the job (``rowpool._local``): typical groups price it
    well, while the largest would run there, serially, before any worker starts."""
    middle = len(largest_first) // 2
    probe = slice(middle, middle + min(PROBE_GROUPS, len(largest_first) - middle))
    rest = np.concatenate([largest_first[: probe.start], largest_first[probe.stop :]])
    return np.concatenate([largest_first[probe], rest]).astype(largest_first.dtype)


class GroupShape:
    """What a worker needs to rebuild each group as pandas hands it to ``func`` (small: sent once
    per job inside the function)."""

    def __init__(self, names: list, columns: pd.Index, series_name, is_series: bool):
        self.names, self.columns = names, columns
        self.series_name, self.is_series = series_name, is_series

    def body(self, frame: pd.DataFrame):
        """A chunk of a ``GroupedFrame`` as its groups hand it to ``func``: the original columns
        (or Series), without the group numbers. Once per chunk: a group is then a row slice."""
        if self.is_series:
            return frame.iloc[:, 0].rename(self.series_name)
        values = frame.iloc[:, :-1]
        values.columns = self.columns
        return values

    def group(self, body, begin: int, end: int, code: int):
        """Rows [begin, end) of a chunk's ``body`` as pandas hands the group to ``func``, named by
        the group's key; a copy unless copy-on-write keeps ``func`` from writing into the chunk
        (pandas 2 without it)."""
        values = body.iloc[begin:end]
        copy_on_write = int(pd.__version__.split(".")[0]) >= 3 or pd.options.mode.copy_on_write is True
        if not copy_on_write:
            values = values.copy()
        object.__setattr__(values, "name", self.names[code])
        return values

    def runs(self, frame: pd.DataFrame) -> list:
        """(begin, end, group number) of each group in a chunk of a ``GroupedFrame``."""
        codes = frame.iloc[:, -1].to_numpy()
        if len(codes) == 0:
            return []
        starts = np.flatnonzero(np.diff(codes)) + 1
        begins = np.concatenate([[0], starts])
        ends = np.concatenate([starts, [len(codes)]])
        return [(int(b), int(e), int(codes[b])) for b, e in zip(begins, ends)]


class GroupedFrame:
    """What ``groupby.apply`` hands ``func``: the groups' rows, regrouped for the workers."""

    def __init__(self, groupby, include_groups: bool):
        grouper = groupby._grouper
        obj = groupby._selected_obj if include_groups else groupby._obj_with_exclusions
        is_series = isinstance(obj, pd.Series)
        frame = pd.DataFrame({SERIES_COLUMN: obj}) if is_series else obj
        ids = _group_ids(grouper)
        self.ngroups = int(grouper.ngroups)
        names = _group_names(groupby, self.ngroups)
        self.shape = GroupShape(names, frame.columns, obj.name if is_series else None, is_series)
        sizes = np.bincount(ids[ids >= 0], minlength=self.ngroups)
        by_group = np.argsort(ids, kind="stable")[int((ids < 0).sum()) :]  # rows of group 0, 1, ...
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        # Largest first; groups of equal size in group order. Empty groups stay with the caller.
        order = np.argsort(-sizes, kind="stable")
        self.order = typical_first(order[sizes[order] > 0])
        self.empty = order[sizes[order] == 0]
        lengths = sizes[self.order]
        self.bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        within = np.arange(self.bounds[-1]) - np.repeat(self.bounds[:-1], lengths)
        rows = by_group[np.repeat(starts[self.order], lengths) + within]
        work = frame.take(rows)
        work.insert(len(work.columns), GROUP_COLUMN, ids[rows], allow_duplicates=True)
        self.frame = work

    def empty_group(self, code: int):
        """An empty group (no rows), as pandas hands it to ``func``."""
        return self.shape.group(self.shape.body(self.frame), 0, 0, code)


class GroupTable:
    """A ``GroupedFrame`` as a Source (``rowpool._source``) whose ``rows`` are groups (see the
    module docstring): chunk ``[begin, end)`` holds groups ``order[begin:end]`` whole."""

    def __init__(self, grouped: GroupedFrame):
        self.grouped = grouped
        self.inner = FrameSource(grouped.frame)
        self.frame = grouped.frame
        self.bounds = grouped.bounds
        self.rows = len(grouped.order)
        self.schema = self.inner.schema
        self.weight_bounds = self.bounds  # a group weighs its rows (see rowpool._local)

    def chunk_end(self, begin: int, end: int) -> int:
        """Where the chunk of groups [begin, end) ends so that a group weighing more than the
        others of the chunk together runs alone: without a cut the largest group shares its chunk
        with the next-largest ones, and the worker holding it finishes that much after the rest."""
        sizes = np.diff(self.bounds[begin : end + 1])
        heaviest = int(np.argmax(sizes))
        if 2 * sizes[heaviest] <= sizes.sum() or end - begin == 1:
            return end
        return begin + max(heaviest, 1)  # the groups before it first, then it alone

    def estimated_row_bytes(self) -> int:
        """Bytes of an average group."""
        return self.inner.estimated_row_bytes() * max(1, int(self.bounds[-1]) // max(1, self.rows))

    def chunk_parts(self, begin: int, end: int, projection=None) -> list:
        """The buffers of groups [begin, end): their rows, as any frame's chunk."""
        return self.inner.chunk_parts(int(self.bounds[begin]), int(self.bounds[end]), projection)

    def local_chunk(self, begin: int, end: int) -> Chunk:
        """The rows of groups [begin, end) decoded in this process."""
        return self.inner.local_chunk(int(self.bounds[begin]), int(self.bounds[end]))

    def local_frame(self, begin: int, end: int):
        """Groups [begin, end) as the DataFrame ``map_batches`` hands its function."""
        return self.inner.local_frame(int(self.bounds[begin]), int(self.bounds[end]))

    def label(self, position: int):
        """The key of the group at ``position``."""
        return self.grouped.shape.names[self.grouped.order[position]]

    def labels(self, begin: int, end: int) -> list:
        """The keys of groups [begin, end)."""
        return [self.label(position) for position in range(begin, end)]

    def too_big(self, begin: int, end: int, needed: int, budget: int) -> str:
        """Why groups [begin, end) cannot reach a worker (they need more shared memory than the
        pool's budget), and what to do: a group is never split."""
        rows = int(self.bounds[end] - self.bounds[begin])
        if end - begin == 1:
            return (
                f"the group {self.label(begin)!r} ({rows} rows) needs {needed} bytes of shared memory, "
                f"more than the budget of {budget} bytes: a group reaches its worker whole, so this "
                f"group alone is too big; raise memory_budget (rowpool.Pool(memory_budget=...))"
            )
        keys = self.labels(begin, min(end, begin + 3))
        return (
            f"the {end - begin} groups {', '.join(map(repr, keys))}{', ...' if end - begin > 3 else ''} "
            f"({rows} rows) need {needed} bytes of shared memory, more than the budget of {budget} "
            f"bytes; lower chunk_rows (groups per chunk) or raise memory_budget "
            f"(rowpool.Pool(memory_budget=...))"
        )
