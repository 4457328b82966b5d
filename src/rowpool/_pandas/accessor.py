"""The pandas accessors: ``df.rowpool.apply(func, ...)``, ``df.rowpool.map_batches(func, ...)``,
``df.rowpool.groupby(by, ...).apply(func, ...)`` and ``series.rowpool.map(func, ...)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd


@pd.api.extensions.register_dataframe_accessor("rowpool")
class RowpoolAccessor:
    """``df.rowpool.apply(func, **options)`` is ``rowpool.apply(df, func, **options)``."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def apply(self, func: Callable[..., Any], **options: Any) -> Any:
        """Parallel ``df.apply(func, axis=1)``; see :func:`rowpool.apply`."""
        from ..api import apply

        return apply(self._frame, func, **options)

    def map_batches(self, func: Callable[..., Any], **options: Any) -> Any:
        """Parallel chunk-wise map; see :func:`rowpool.map_batches`."""
        from ..api import map_batches

        return map_batches(self._frame, func, **options)

    def groupby(self, by: Any = None, **grouping: Any) -> RowpoolGroupBy:
        """``df.rowpool.groupby(by, level=, group_keys=, dropna=, sort=, observed=)``: its
        ``.apply(func, **options)`` is :func:`rowpool.groupby_apply`."""
        return RowpoolGroupBy(self._frame, by, grouping)


class RowpoolGroupBy:
    """The groups of ``df.rowpool.groupby(by, ...)``; ``apply`` runs a function once per group on
    rowpool (see :func:`rowpool.groupby_apply`)."""

    def __init__(self, frame: pd.DataFrame, by: Any, grouping: dict[str, Any]) -> None:
        self._frame, self._by, self._grouping = frame, by, grouping

    def apply(self, func: Callable[..., Any], **options: Any) -> Any:
        """Parallel ``df.groupby(by, ...).apply(func)``: ``options`` are
        :func:`rowpool.groupby_apply`'s (``include_groups``, ``args``, ``kwargs``, ``workers``,
        ``errors``, ...)."""
        from .groupby import groupby_apply

        return groupby_apply(self._frame, self._by, func, **self._grouping, **options)


@pd.api.extensions.register_series_accessor("rowpool")
class RowpoolSeriesAccessor:
    """``series.rowpool.map(func, **options)`` is ``rowpool.map(series, func, **options)``."""

    def __init__(self, series: pd.Series) -> None:
        self._series = series

    def map(self, func: Callable[..., Any], na_action: str | None = None, **options: Any) -> Any:
        """Parallel ``series.map(func, na_action)``; see :func:`rowpool.map`."""
        from .map import map as parallel_map

        return parallel_map(self._series, func, na_action, **options)
