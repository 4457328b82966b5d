"""Columns moved (issue 18.1): a row job over a wide float frame whose rows read 10 columns, with
chunks cut to the columns rows read (projection on) and with every column moved (off); and the same
function reading, on 1 row in 10,000, a column no row read before (each such row fetches it).

    python bench/projection.py [--rows 200000] [--columns 1000] [--workers 2] [--repeat 3]

One process, one warm ``rowpool.Pool``; each round runs every variant once, interleaved, so drift
on a shared machine hits them alike. Prints the median wall time of each variant, its bytes moved
(``rowpool._projection.last_traffic()``), the ratios on/off, and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scenarios import float_frame  # noqa: E402

READ = [f"c{j}" for j in range(0, 1000, 100)]  # the 10 columns every row reads


def fixed(row):
    """Reads the same 10 columns on every row."""
    total = 0.0
    for name in READ:
        total += row[name]
    return total


def make_rare(columns: int):
    """``fixed``, plus on 1 row in 10,000 a column that no row read before."""

    def rare(row):
        total = fixed(row)
        label = row.name
        if label % 10_000 == 9_999:
            total += row[f"c{1 + (label // 10_000) % (columns - 1)}"]
        return total

    return rare


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--columns", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    import rowpool
    from rowpool import _projection

    df = float_frame(args.rows, args.columns)
    variants = {"fixed": fixed, "rare": make_rare(args.columns)}
    times: dict[tuple[str, bool], list[float]] = {}
    moved: dict[tuple[str, bool], int] = {}
    fetches: dict[tuple[str, bool], int] = {}
    loads = []
    with rowpool.Pool(workers=args.workers) as pool:
        pool.apply(df.iloc[:1000], fixed)  # workers up and the job's modules imported
        expected = {}
        for _round in range(args.repeat):
            for name, func in variants.items():
                for enabled in (True, False):
                    _projection.ENABLED = enabled
                    loads.append(os.getloadavg()[0])
                    started = time.perf_counter()
                    result = pool.apply(df, func)
                    times.setdefault((name, enabled), []).append(time.perf_counter() - started)
                    traffic = _projection.last_traffic()
                    moved[(name, enabled)], fetches[(name, enabled)] = traffic.total, traffic.fetches
                    if name in expected:
                        assert result.equals(expected[name]), f"{name}: results differ"
                    expected[name] = result
    _projection.ENABLED = True
    frame_mb = df.memory_usage(index=False).sum() / 1e6
    print(
        f"frame {args.rows:,} x {args.columns:,} ({frame_mb:,.0f} MB), {args.workers} workers, "
        f"{args.repeat} rounds, load average {min(loads):.2f}..{max(loads):.2f}"
    )
    for (name, enabled), values in times.items():
        print(
            f"  {name:5s} projection {'on ' if enabled else 'off'}  median {statistics.median(values):7.3f} s"
            f"  (min {min(values):.3f}, max {max(values):.3f})  moved {moved[(name, enabled)] / 1e6:9,.1f} MB"
            f"  fetches {fetches[(name, enabled)]}"
        )
    for name in variants:
        on, off = (statistics.median(times[(name, e)]) for e in (True, False))
        print(f"  {name}: on / off = {on / off:.3f}")
    rare_on, fixed_off = statistics.median(times[("rare", True)]), statistics.median(times[("fixed", False)])
    print(f"  rare (on) / fixed with every column moved (off) = {rare_on / fixed_off:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
