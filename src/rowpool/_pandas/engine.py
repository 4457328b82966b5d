"""pandas' execution-engine hook (pandas >= 3.0): plain pandas code, run by rowpool.

    df.apply(func, axis=1, engine=rowpool.engine)                 # rows on rowpool's workers
    df.apply(func, axis=1, raw=True, engine=rowpool.engine(workers=4))
    series.map(func, engine=rowpool.engine)

pandas hands an engine's ``__pandas_udf__`` (a ``BaseExecutionEngine``) the data, the function and
its arguments, and the engine object itself as ``decorator``: that object carries the options
given to ``rowpool.engine(...)``. Column-wise applies (``axis=0``) call ``func`` once per column,
too few calls to spread: they run in pandas in the calling process.

pandas 3.1 calls the hook from ``DataFrame.apply`` and ``Series.map`` only. ``Series.apply``
has no ``engine=`` argument: it passes ``engine=rowpool.engine`` on to ``func`` as a keyword
argument, like any other (``tests/test_engine.py`` pins this, so a pandas that adds the hook there
shows up).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import map as _map
from . import replay as _replay

PANDAS_MAJOR = int(pd.__version__.split(".")[0])
OPTIONS = (
    "workers",
    "errors",
    "progress",
    "chunk_rows",
    "timeout",
    "retries",
    "max_worker_memory",
    "pool",
    "in_process",
    "init",
)

try:  # pandas >= 3.0
    from pandas.core.apply import BaseExecutionEngine as _EngineBase
except ImportError:  # pandas 2: no hook; rowpool.engine() says so
    _EngineBase = object


def frame_apply_raw(values: np.ndarray, func) -> np.ndarray:
    """What pandas' ``FrameApply.apply_raw`` computes for ``axis=1`` (str results wrapped as 0-d
    object arrays, as pandas does around numpy issue 8352)."""

    def wrapper(row):
        result = func(row)
        return np.array(result, dtype=object) if isinstance(result, str) else result

    return np.apply_along_axis(wrapper, 1, values)


def _options(decorator) -> dict:
    return dict(getattr(decorator, "options", {}))


def _axis_number(data, axis) -> int:
    if isinstance(data, pd.DataFrame):
        return data._get_axis_number(axis)
    return {0: 0, 1: 1, "index": 0, "rows": 0, "columns": 1}[axis]


class RowpoolExecutionEngine(_EngineBase):
    """The ``BaseExecutionEngine`` pandas calls for ``engine=rowpool.engine``."""

    @staticmethod
    def map(data, func, args: tuple, kwargs: dict, decorator, skip_na: bool):
        """``series.map(func, engine=...)``: :func:`rowpool.map`."""
        if not isinstance(data, pd.Series):
            raise NotImplementedError(f"rowpool's engine maps Series, not {type(data).__name__}")
        na_action = "ignore" if skip_na else None
        return _map.map(data, func, na_action, args=tuple(args), kwargs=dict(kwargs), **_options(decorator))

    @staticmethod
    def apply(data, func, args: tuple, kwargs: dict, decorator, axis):
        """``df.apply(func, axis=..., raw=..., engine=...)``: rows on rowpool (``axis=1``),
        columns in pandas (``axis=0``)."""
        from .. import api

        options = _options(decorator)
        if _axis_number(data, axis) == 0:
            frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
            result = frame.apply(func, axis=0, raw=not isinstance(data, pd.DataFrame), args=args, **kwargs)
            return result.to_numpy() if isinstance(data, np.ndarray) else result
        if isinstance(data, pd.DataFrame):
            return api.apply(data, func, args=tuple(args), kwargs=dict(kwargs), **options)
        if len(data) == 0:
            return np.apply_along_axis(func, 1, data, *args, **kwargs)
        results = _replay.raw_results(data, func, tuple(args), dict(kwargs), options)
        # pandas' apply_raw is np.apply_along_axis of func: the same, handed the results.
        return frame_apply_raw(data, _replay.replayer(results))


class Engine:
    """A configured rowpool engine for pandas' ``engine=`` argument (see :func:`rowpool.engine`)."""

    __pandas_udf__ = RowpoolExecutionEngine

    def __init__(self, options: dict[str, Any]):
        self.options = options

    def __repr__(self) -> str:
        return f"rowpool.engine({', '.join(f'{k}={v!r}' for k, v in self.options.items())})"


def engine(**options: Any) -> Engine:
    """A pandas execution engine (pandas >= 3.0) running ``df.apply(func, axis=1)`` and
    ``series.map(func)`` on rowpool, configured with :func:`rowpool.apply`'s options (``workers``,
    ``errors`` other than ``"collect"``, ``progress``, ``chunk_rows``, ``timeout``, ``retries``,
    ``max_worker_memory``, ``pool``, ``in_process``, ``init``). ``rowpool.engine`` itself is the
    engine with the defaults::

        df.apply(func, axis=1, engine=rowpool.engine)
        df.apply(func, axis=1, engine=rowpool.engine(workers=4, errors="coerce"))
        series.map(func, engine=rowpool.engine)

    pandas takes the hook in ``DataFrame.apply`` and ``Series.map`` only: ``Series.apply`` has no
    ``engine=`` argument and passes ``engine=...`` on to ``func`` as a keyword argument (use
    ``series.map(func, engine=rowpool.engine)``).

    On pandas 2 raises ImportError: pandas' engine hook (``__pandas_udf__``) needs pandas 3.
    """
    if PANDAS_MAJOR < 3:
        raise ImportError(
            f"rowpool.engine plugs into pandas' execution-engine hook (engine=...), which needs "
            f"pandas >= 3.0; this is pandas {pd.__version__}. Use rowpool.apply(df, func) instead."
        )
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(f"rowpool.engine() got unexpected options {unknown}; it takes {list(OPTIONS)}")
    if options.get("errors") == "collect":
        raise ValueError('errors="collect" returns (result, failures); pandas\' engine= needs one result')
    return Engine(options)


engine.__pandas_udf__ = RowpoolExecutionEngine  # type: ignore[attr-defined]  # engine=rowpool.engine
