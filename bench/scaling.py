"""How cost grows (issue 18 item 4): rows/s and peak PSS of ``rowpool.apply`` over float frames of
10^4 ... 10^7 rows (10 columns) and of 10 ... 10,000 columns (10^4 rows), with 1 and 2 workers.

    python bench/scaling.py [--max-rows N] [--axis rows|columns] [--out DIR]
        # DIR/scaling.json, DIR/scaling.md and DIR/plots/scaling.png; --axis reruns one sweep and
        # keeps the other sweep's points from DIR/scaling.json

Each point is a fresh process (``measure.run_measured`` samples its whole tree) that builds the
frame, then calls ``rowpool.apply(df, scaling_row, workers=w, in_process=False)`` twice (every row
in a worker, also for the smallest frames): the first call starts the default pool's workers
(cold), the second reuses them (warm). Reported: rows/s of each call, µs per row of the warm call,
the frame's bytes, the tree's peak PSS while the calls run (the frame's construction excluded),
and peak PSS minus the frame (what rowpool adds). The row function reads two fields, as most row
functions read few of many.
``scaling.md`` (the table and the plot) becomes a section of BENCHMARKS.md (``report.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.measure import GiB, become_subreaper, run_measured  # noqa: E402

ROWS = (10**4, 10**5, 10**6, 10**7)  # with COLUMNS_OF_ROWS columns
COLUMNS = (10, 100, 1_000, 10_000)  # with ROWS_OF_COLUMNS rows
COLUMNS_OF_ROWS = 10
ROWS_OF_COLUMNS = 10**4
WORKERS = (1, 2)


def scaling_row(row):
    """Two fields of the row (a module-level function: workers import it by reference)."""
    return row["c0"] * 2.0 + row["c1"]


def child(rows: int, columns: int, workers: int, out: Path) -> None:
    """One point, inside the measured process: build, call twice, write the timings."""
    import numpy as np
    import pandas as pd

    import rowpool

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.random((rows, columns)), columns=[f"c{i}" for i in range(columns)], copy=False)
    timing = {"frame_bytes": int(df.memory_usage(deep=True).sum()), "built": time.monotonic()}
    for call in ("cold", "warm"):
        started = time.perf_counter()
        result = rowpool.apply(df, scaling_row, workers=workers, progress=False, in_process=False)
        timing[call] = time.perf_counter() - started
        assert len(result) == rows
        del result
    timing["done"] = time.monotonic()
    out.write_text(json.dumps(timing))


def measure(rows: int, columns: int, workers: int) -> dict:
    """One point in a fresh, sampled process."""
    with tempfile.TemporaryDirectory(prefix="rowpool-scaling-") as directory:
        out = Path(directory) / "timing.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(rows), str(columns)]
        cmd += [str(workers), str(out)]
        env = dict(os.environ, PYTHONPATH=str(HERE.parent))
        outcome = run_measured(
            cmd,
            env=env,
            cwd=HERE.parent,
            timeout=900,
            limit_bytes=int(16 * GiB),
            stderr_path=Path(directory) / "stderr",
        )
        if outcome.returncode != 0:
            raise RuntimeError(f"{rows} x {columns}, {workers} workers failed:\n{outcome.stderr[-2000:]}")
        timing = json.loads(out.read_text())
    # The peak while rowpool runs (monotonic clocks are system-wide): building the frame is not ours.
    during = [s.memory for s in outcome.sampler.samples if timing["built"] <= s.t <= timing["done"]]
    peak = max(during, default=0)
    return {
        "rows": rows,
        "columns": columns,
        "workers": workers,
        "cold_s": timing["cold"],
        "warm_s": timing["warm"],
        "cold_rows_per_s": rows / timing["cold"],
        "warm_rows_per_s": rows / timing["warm"],
        "warm_us_per_row": 1e6 * timing["warm"] / rows,
        "frame_bytes": timing["frame_bytes"],
        "peak_pss": peak,
        "added_pss": peak - timing["frame_bytes"],
    }


def table(points: list[dict]) -> str:
    """The points as a markdown table."""
    lines = [
        "| rows | columns | workers | cold rows/s | warm rows/s | warm µs/row | frame | peak PSS "
        "| PSS - frame |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for p in points:
        lines.append(
            f"| {p['rows']:,} | {p['columns']:,} | {p['workers']} | {p['cold_rows_per_s']:,.0f} | "
            f"{p['warm_rows_per_s']:,.0f} | {p['warm_us_per_row']:.2f} | "
            f"{p['frame_bytes'] / 2**20:,.0f} MB | {p['peak_pss'] / 2**20:,.0f} MB | "
            f"{p['added_pss'] / 2**20:,.0f} MB |"
        )
    return "\n".join(lines)


def plot(points: list[dict], path: Path) -> None:
    """Warm µs per row and PSS minus the frame, against rows and against columns."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(11, 7))
    sweeps = (("rows", "columns", COLUMNS_OF_ROWS), ("columns", "rows", ROWS_OF_COLUMNS))
    for column, (axis, fixed, value) in enumerate(sweeps):
        for workers in WORKERS:
            chosen = sorted(
                (p for p in points if p[fixed] == value and p["workers"] == workers), key=lambda p: p[axis]
            )
            xs = [p[axis] for p in chosen]
            label = f"{workers} worker{'s' if workers > 1 else ''}"
            axes[0][column].plot(xs, [p["warm_us_per_row"] for p in chosen], marker="o", label=label)
            axes[1][column].plot(xs, [p["added_pss"] / 2**20 for p in chosen], marker="o", label=label)
        for row, what in enumerate(("µs per row (warm call)", "peak PSS - frame (MB)")):
            ax = axes[row][column]
            ax.set_xscale("log")
            ax.set_xlabel(f"{axis} ({fixed}: {value:,})")
            ax.set_ylabel(what)
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            ax.legend()
    figure.suptitle("rowpool.apply: cost per row and memory as the frame grows")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--max-rows", type=int, default=ROWS[-1], help="largest row count (default 10^7)")
    parser.add_argument("--out", type=Path, default=HERE, help="where scaling.json and plots/ go")
    parser.add_argument(
        "--axis", choices=("rows", "columns"), help="run this sweep only; keep the other's points from OUT"
    )
    parser.add_argument(
        "--child", nargs=4, metavar=("ROWS", "COLUMNS", "WORKERS", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        rows, columns, workers, out = args.child
        child(int(rows), int(columns), int(workers), Path(out))
        return 0
    become_subreaper()
    rows_grid = [(r, COLUMNS_OF_ROWS) for r in ROWS if r <= args.max_rows]
    columns_grid = [(ROWS_OF_COLUMNS, c) for c in COLUMNS if (ROWS_OF_COLUMNS, c) not in rows_grid]
    grid = {"rows": rows_grid, "columns": columns_grid}.get(args.axis, rows_grid + columns_grid)
    points = []
    for rows, columns in grid:
        for workers in WORKERS:
            points.append(measure(rows, columns, workers))
            print(table(points[-1:]).splitlines()[-1], flush=True)
    kept_note = ""
    previous = args.out / "scaling.json"
    if args.axis and previous.exists():
        kept = [p for p in json.loads(previous.read_text()) if (p["rows"], p["columns"]) not in grid]
        points = (
            [p for p in points if p["columns"] == COLUMNS_OF_ROWS]
            + kept
            + [p for p in points if p["columns"] != COLUMNS_OF_ROWS]
        )
        other = "columns" if args.axis == "rows" else "rows"
        kept_note = f" (the {args.axis} sweep; the {other} sweep's points are from an earlier run)"
    (args.out / "scaling.json").write_text(json.dumps(points, indent=1))
    plot(points, args.out / "plots" / "scaling.png")
    (args.out / "scaling.md").write_text(section(points, kept_note))
    print(table(points))
    return 0


def section(points: list[dict], kept_note: str = "") -> str:
    """The BENCHMARKS.md section of a run."""
    load = os.getloadavg()[0]
    return "\n".join(
        [
            "## scaling (issue 18 item 4)",
            "",
            "`python bench/scaling.py` — "
            + (__doc__ or "").split("\n\n")[2].replace("\n", " ").strip()
            + f" Measured {time.strftime('%Y-%m-%d')}{kept_note}, load average {load:.1f} on "
            + f"{os.cpu_count()} cores at the end.",
            "",
            table(points),
            "",
            "![scaling](bench/plots/scaling.png)",
            "",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
