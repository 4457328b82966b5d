"""The pandas accessor: ``df.rowpool.apply(func, ...)`` and ``df.rowpool.map_batches(func, ...)``."""

from __future__ import annotations

import pandas as pd


@pd.api.extensions.register_dataframe_accessor("rowpool")
class RowpoolAccessor:
    """``df.rowpool.apply(func, **options)`` is ``rowpool.apply(df, func, **options)``."""

    def __init__(self, frame: pd.DataFrame):
        self._frame = frame

    def apply(self, func, **options):
        """Parallel ``df.apply(func, axis=1)``; see :func:`rowpool.apply`."""
        from .api import apply

        return apply(self._frame, func, **options)

    def map_batches(self, func, **options):
        """Parallel chunk-wise map; see :func:`rowpool.map_batches`."""
        from .api import map_batches

        return map_batches(self._frame, func, **options)
