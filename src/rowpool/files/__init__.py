"""Jobs over data larger than memory: Parquet, CSV and Arrow IPC files, Arrow tables and streams,
polars frames; results in input order into an output file (Parquet, CSV or Arrow IPC), written
atomically with a resume journal, or returned as the input's kind.

    rowpool.apply("in.parquet", func, output="out.parquet", keep=("id",), resume=True)

Modules: ``_sources`` / ``_csv`` read (Arrow record batches), ``_open`` picks the source,
``_windows`` cuts it into pandas windows with read-ahead, ``_job`` runs them as one job
(``_window_source`` is its Source, ``_window_sink`` its Sink; ``_nulls`` types columns as a whole),
``_sinks`` takes results (``_writers`` formats, ``_journal`` commits, ``_output`` publishes).
pyarrow is imported only when a file job runs: ``import rowpool`` does not import this package.
"""

from __future__ import annotations

from ._api import parse_size, run
from ._job import FileJobSummary

__all__ = ["FileJobSummary", "parse_size", "run"]
