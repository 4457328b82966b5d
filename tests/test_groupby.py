"""rowpool.groupby_apply: pandas' own ``df.groupby(by).apply(func)`` result, ``func`` once per group in
workers, groups shipped whole and largest first."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import rowpool
from rowpool import groupby_apply
from rowpool._pandas.groups import GroupedFrame, GroupTable

PANDAS_MAJOR = int(pd.__version__.split(".")[0])
INCLUDE_GROUPS = [False, True] if PANDAS_MAJOR < 3 else [False]

FRAME = pd.DataFrame(
    {
        "k": list("abcabca") + [None] + list("dddddd"),
        "j": [1, 2] * 7,
        "v": np.arange(14.0),
        "s": list("xyzxyzxyxyzxyz"),
    },
    index=pd.Index([f"r{i}" for i in range(14)], name="row"),
)

FUNCS = {
    "scalar": lambda g: g["v"].sum() * len(g),
    "series": lambda g: g["v"] * 2,
    "head": lambda g: g.head(2),
    "same": lambda g: g,
    "describe": lambda g: g[["v"]].describe(),
    "named": lambda g: pd.Series({"n": len(g), "first": g["v"].iloc[0]}),
    "name": lambda g: str(g.name),
    "none_for_some": lambda g: None if len(g) == 1 else g["v"].max(),
}


def _call(how, frame, by, func, **options):
    """``frame.groupby(by, **grouping).apply(func)`` in pandas or in rowpool, warnings silenced
    (pandas 2's DeprecationWarning about grouping columns comes from both)."""
    grouping = {k: options.pop(k) for k in ("group_keys", "dropna", "sort", "level") if k in options}
    include_groups = options.pop("include_groups", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if how == "pandas":
            return frame.groupby(by, **grouping).apply(func, include_groups=include_groups)
        return groupby_apply(frame, by, func, include_groups=include_groups, **grouping, **options)


def _assert_same(got, expected):
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected)
    else:
        pd.testing.assert_series_equal(got, expected)


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("grouping", [{}, {"group_keys": False}, {"dropna": False}, {"sort": False}])
@pytest.mark.parametrize("include_groups", INCLUDE_GROUPS)
def test_result_is_pandas_own(pool, name, grouping, include_groups):
    func = FUNCS[name]
    expected = _call("pandas", FRAME, "k", func, include_groups=include_groups, **grouping)
    got = _call(
        "rowpool", FRAME, "k", func, include_groups=include_groups, pool=pool, chunk_rows=2, **grouping
    )
    _assert_same(got, expected)


@pytest.mark.parametrize("by", [["k", "j"], "j", FRAME["j"].to_numpy() % 2])
def test_several_keys_and_array_keys(pool, by):
    func = FUNCS["named"]
    _assert_same(_call("rowpool", FRAME, by, func, pool=pool), _call("pandas", FRAME, by, func))


def test_series_and_level(pool):
    series = FRAME.set_index("k", append=True)["v"]
    func = lambda values: values.max() - values.min() + len(values.name)  # noqa: E731
    _assert_same(
        groupby_apply(series, level="k", func=func, pool=pool), series.groupby(level="k").apply(func)
    )


def test_unobserved_categories_run_here_like_pandas(pool):
    frame = FRAME.assign(k=pd.Categorical(FRAME["k"], categories=list("abcdez")))
    func = lambda g: len(g)  # noqa: E731
    expected = frame.groupby("k", observed=False).apply(func)
    _assert_same(groupby_apply(frame, "k", func, observed=False, pool=pool), expected)


def test_every_group_once_and_whole_in_workers(pool):
    """Groups of very different sizes, chunks of one group: each call sees all rows of its group
    (their labels), and the worker's pid shows the calls left this process."""
    sizes = [500, 1, 3, 40, 2, 2, 7, 100]
    frame = pd.DataFrame({"g": np.repeat(np.arange(len(sizes)), sizes)}).sample(frac=1, random_state=0)
    frame["x"] = np.arange(len(frame))

    def seen(group):
        import os

        return pd.Series({"labels": tuple(sorted(group.index)), "pid": os.getpid()})

    got = groupby_apply(frame, "g", seen, pool=pool, chunk_rows=1)
    expected = frame.groupby("g").apply(lambda g: tuple(sorted(g.index)))
    assert got["labels"].tolist() == expected.tolist()
    assert not (got["pid"] == __import__("os").getpid()).any()


def test_largest_group_first_after_a_few_typical_ones():
    sizes = [1, 50, 3, 3, 200, 2, 4, 7, 9, 1, 6]
    frame = pd.DataFrame({"g": np.repeat(np.arange(len(sizes)), sizes), "x": 1.0})
    grouped = GroupedFrame(frame.groupby("g"), include_groups=False)
    # Largest first: 4, 1, 8, 7, 10, 6, 2, 3, 5, 0, 9; the median-sized 6, 2, 3, 5 lead (what the
    # calling process runs to price the job), then the rest, largest first.
    assert grouped.order.tolist() == [6, 2, 3, 5, 4, 1, 8, 7, 10, 0, 9]
    assert np.diff(grouped.bounds).tolist() == [4, 3, 3, 2, 200, 50, 9, 7, 6, 1, 1]
    assert (grouped.frame["x"] == 1.0).all() and len(grouped.frame) == sum(sizes)
    two = GroupedFrame(frame[frame["g"].isin([1, 4])].groupby("g"), include_groups=False)
    assert two.order.tolist() == [0, 1]  # the smaller first, then the larger


def _sleep_per_row(group):
    import os
    import time

    started = time.monotonic()
    time.sleep(0.001 * len(group))
    return pd.Series({"rows": len(group), "pid": os.getpid(), "started": started})


@pytest.mark.tiny_jobs_in_process
def test_largest_group_starts_on_a_worker_not_in_the_calling_process():
    """A job too big to finish in the calling process: the largest group (half of the job's
    cost) must not run there serially before any worker starts; it starts on a worker, in the
    first chunk it gets, behind at most a few typical groups."""
    sizes = [400] + [2, 3, 4, 5] * 25
    frame = pd.DataFrame({"g": np.repeat(np.arange(len(sizes)), sizes), "x": 1.0})
    got = groupby_apply(frame, "g", _sleep_per_row, workers=2)
    big = got.loc[0]
    assert big["pid"] != __import__("os").getpid()
    before = got[(got["pid"] == big["pid"]) & (got["started"] < big["started"])]
    assert len(before) <= 4 and (before["rows"] <= 5).all()


def test_a_group_outweighing_the_rest_of_its_chunk_is_cut_out_alone():
    sizes = [1, 50, 3, 3, 200, 2, 4, 7, 9, 1, 6]  # bounds' sizes: 4, 3, 3, 2, 200, 50, 9, 7, ...
    frame = pd.DataFrame({"g": np.repeat(np.arange(len(sizes)), sizes), "x": 1.0})
    table = GroupTable(GroupedFrame(frame.groupby("g"), include_groups=False))
    assert table.chunk_end(0, 8) == 4  # the typical groups first: the 200 starts the next chunk
    assert table.chunk_end(4, 8) == 5  # the 200 alone
    assert table.chunk_end(5, 8) == 6  # 50 outweighs 9 + 7
    assert table.chunk_end(6, 11) == 11  # 9, 7, 6, 1, 1: no group outweighs the others
    assert table.chunk_end(4, 5) == 5


def test_largest_group_runs_in_a_chunk_of_its_own(pool, monkeypatch):
    """The chunks the workers get (asked of the source once each): the largest group's holds it
    alone, so the worker running it is not also held by the next-largest groups; every group is
    asked for once and the result is pandas' own."""
    sizes = [600] + [60, 50, 40] + [2, 3, 4, 5] * 30
    frame = pd.DataFrame({"g": np.repeat(np.arange(len(sizes)), sizes), "x": 1.0}).sample(
        frac=1, random_state=1
    )
    asked = []
    chunk_parts = GroupTable.chunk_parts

    def spy(self, begin, end, projection=None):
        asked.append([int(code) for code in self.grouped.order[begin:end]])
        return chunk_parts(self, begin, end, projection)

    monkeypatch.setattr(GroupTable, "chunk_parts", spy)
    got = groupby_apply(frame, "g", lambda g: g["x"].sum(), pool=pool)
    pd.testing.assert_series_equal(got, frame.groupby("g").apply(lambda g: g["x"].sum()))
    assert [0] in asked
    assert sorted(code for chunk in asked for code in chunk) == list(range(len(sizes)))


def _fails_on_b(group):
    if group.name == "b":
        raise KeyError("no b")
    if group.name == "c":
        raise ValueError("no c")
    return len(group)


def test_errors_raise_the_first_group_in_pandas_order(pool):
    with pytest.raises(KeyError) as caught:
        groupby_apply(FRAME, "k", _fails_on_b, pool=pool, chunk_rows=1)
    assert isinstance(caught.value, rowpool.RowError) and caught.value.label == "b"


def test_errors_coerce_and_collect(pool):
    coerced = groupby_apply(FRAME, "k", _fails_on_b, pool=pool, errors="coerce")
    assert coerced.isna().tolist() == [False, True, True, False]
    result, failures = groupby_apply(FRAME, "k", _fails_on_b, pool=pool, errors="collect")
    pd.testing.assert_series_equal(result, coerced)
    assert failures.index.tolist() == ["b", "c"] and failures["exception"].tolist() == [
        "KeyError",
        "ValueError",
    ]


def test_init_state_and_args(pool):
    got = groupby_apply(
        FRAME, "k", lambda g, state, extra: len(g) * state + extra, init=lambda: 10, args=(1,), pool=pool
    )
    _assert_same(got, FRAME.groupby("k").apply(lambda g: len(g) * 10 + 1, include_groups=False))


@pytest.mark.tiny_jobs_in_process
def test_tiny_job_in_process():
    _assert_same(groupby_apply(FRAME, "k", FUNCS["series"]), _call("pandas", FRAME, "k", FUNCS["series"]))


def test_bad_arguments():
    with pytest.raises(TypeError, match="func"):
        groupby_apply(FRAME, "k", 3)
    with pytest.raises(TypeError, match="df"):
        groupby_apply([1, 2], "k", len)
    with pytest.raises(ValueError, match="errors"):
        groupby_apply(FRAME, "k", len, errors="ignore")
    if PANDAS_MAJOR >= 3:
        with pytest.raises(ValueError, match="include_groups"):
            groupby_apply(FRAME, "k", len, include_groups=True)


def test_accessor(pool):
    func = FUNCS["named"]
    got = FRAME.rowpool.groupby("k", dropna=False).apply(func, include_groups=False, pool=pool)
    _assert_same(got, FRAME.groupby("k", dropna=False).apply(func, include_groups=False))


def test_group_bigger_than_the_memory_budget_is_named():
    """A group reaches its worker whole: one that needs more shared memory than the pool's budget
    raises BudgetExceeded naming the group and what to do (not rows of the regrouped table)."""
    sizes = {"big": 150_000, "small": 10, "tiny": 3}
    frame = pd.DataFrame({"g": np.repeat(list(sizes), list(sizes.values())), "x": 1.0})
    with rowpool.Pool(workers=1, memory_budget=1 << 20) as pool:
        with pytest.raises(
            rowpool.BudgetExceeded, match=r"the group 'big' \(150000 rows\).*alone.*memory_budget"
        ):
            groupby_apply(frame, "g", len, pool=pool)
        # Groups of 25,000 rows fit the budget one by one, not two by two.
        pairs = pd.DataFrame({"g": np.repeat(np.arange(4), 25_000), "x": 1.0})
        with pytest.raises(
            rowpool.BudgetExceeded, match=r"the 2 groups \d, \d \(50000 rows\).*lower chunk_rows"
        ):
            groupby_apply(pairs, "g", len, pool=pool, chunk_rows=2, include_groups=False)
        got = groupby_apply(pairs, "g", len, pool=pool, chunk_rows=1, include_groups=False)
        assert got.tolist() == [25_000] * 4
