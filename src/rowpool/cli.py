"""Command line: ``rowpool demo`` generates a table, runs a row function over it on all cores and
prints the wall time, rows/s and the peak memory of all processes (the sum of their PSS);
``rowpool run SRC MODULE:FUNC -o OUT`` runs a function over a file (see ``rowpool.files._cli``)."""

from __future__ import annotations

import argparse
import sys
import time


def demo_row(row):
    """The demo's row function: a branch on a string field, arithmetic on numeric ones."""
    if row["kind"] == "premium":
        return row["price"] * row["quantity"] * 0.9 + row["id"] % 7
    return row["price"] * row["quantity"] + row["id"] % 7


def make_table(rows: int, seed: int = 0):
    """A mixed table: ints, floats, a string column, a boolean and a timestamp."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "price": rng.uniform(1, 100, rows),
            "quantity": rng.integers(1, 20, rows),
            "discount": rng.uniform(0, 0.5, rows),
            "score": rng.normal(size=rows),
            "kind": rng.choice(["basic", "premium", "trial"], rows),
            "active": rng.random(rows) < 0.8,
            "seen": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, rows), unit="s"),
        }
    )


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def demo(rows: int, workers: int | None, check_rows: int) -> int:
    import pandas as pd

    import rowpool
    from rowpool._memory import PeakTreePss

    print(f"generating a {rows:,}-row table ...", flush=True)
    table = make_table(rows)
    frame_bytes = int(table.memory_usage(deep=True).sum())
    with rowpool.Pool(workers) as pool:
        print(f"running on {pool.workers} worker processes ...", flush=True)
        with PeakTreePss() as peak:
            started = time.perf_counter()
            result = pool.apply(table, demo_row)
            wall = time.perf_counter() - started
    sample = table.iloc[:check_rows]
    started = time.perf_counter()
    expected = sample.apply(demo_row, axis=1)
    serial_rate = len(sample) / (time.perf_counter() - started)
    pd.testing.assert_series_equal(result.iloc[:check_rows], expected)
    print(f"rows:            {rows:,}")
    print(f"wall time:       {wall:.2f} s")
    print(f"rows/s:          {rows / wall:,.0f}  (serial df.apply: {serial_rate:,.0f} rows/s)")
    print(
        f"peak memory:     {_mib(peak.bytes)} summed PSS over {peak.processes} processes "
        f"(table: {_mib(frame_bytes)})"
    )
    print(f"check:           first {len(sample):,} rows identical to df.apply(axis=1)")
    return 0


def positive_int(text: str) -> int:
    """An argparse type: an int >= 1 (argparse turns the ValueError into a usage error)."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rowpool", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="run the demo job and print time, rows/s, memory")
    demo_parser.add_argument("--rows", type=positive_int, default=2_000_000, help="rows in the table")
    demo_parser.add_argument("--workers", type=positive_int, default=None, help="worker processes (all CPUs)")
    demo_parser.add_argument(
        "--check-rows", type=positive_int, default=50_000, help="rows compared against serial df.apply"
    )
    from .files import _cli as run_cli

    run_cli.add_parser(commands)
    options = parser.parse_args(argv)
    if options.command == "run":
        return run_cli.run_command(options)
    if options.command == "demo":
        return demo(options.rows, options.workers, options.check_rows)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
