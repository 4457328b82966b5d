"""Fidelity: ``rowpool.apply`` keeps ``df.attrs``, metadata and the frame's subclass as pandas'
``df.apply(func, axis=1)`` does (``__finalize__``)."""

from __future__ import annotations

import pandas as pd
import pytest

import rowpool

pytestmark = pytest.mark.timeout(60)


class TaggedSeries(pd.Series):
    @property
    def _constructor(self):
        return TaggedSeries

    @property
    def _constructor_expanddim(self):
        return TaggedFrame


class TaggedFrame(pd.DataFrame):
    _metadata = ["tag"]

    @property
    def _constructor(self):
        return TaggedFrame

    @property
    def _constructor_sliced(self):
        return TaggedSeries


@pytest.mark.parametrize("result", ["scalar", "series"])
def test_apply_keeps_attrs_metadata_and_subclass_like_pandas(pool, result):
    df = TaggedFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
    df.attrs["source"] = "sensor"
    df.tag = "T"
    func = (lambda r: r["a"] + r["b"]) if result == "scalar" else (lambda r: pd.Series({"x": r["a"]}))
    expected = df.apply(func, axis=1)
    for got in (rowpool.apply(df, func, pool=pool), rowpool.apply(df, func, pool=pool, errors="collect")[0]):
        assert type(got) is type(expected)
        assert got.attrs == expected.attrs == {"source": "sensor"}
        assert getattr(got, "tag", None) == getattr(expected, "tag", None)
        if result == "scalar":
            pd.testing.assert_series_equal(got, expected)
        else:
            pd.testing.assert_frame_equal(got, expected)
