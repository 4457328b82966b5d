"""Turning measured runs into BENCHMARKS.md: per-scenario tables, the DESIGN.md §4 bars, plots.

Input is the ``results`` document that ``bench/run.py`` keeps in ``results.json``:
``{"runs": {scenario: {engine: row}}, "machine": {...}, "versions": {...}, "commands": [...]}``,
where a row holds the medians over the repeats of one engine on one scenario (see ``run.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.engines import ENGINES
from bench.scenarios import SCENARIOS

MB = 1e6
OK = "OK"


# ----------------------------------------------------------------------------- derived metrics
def serial_wall(rows: dict[str, dict]) -> float | None:
    """Wall time of the serial reference of a scenario, if it ran."""
    row = rows.get("serial")
    return row["wall_s"] if row and row["status"] == OK else None


def speedup(row: dict, rows: dict[str, dict]) -> float | None:
    """Serial wall / this wall."""
    base = serial_wall(rows)
    if base is None or row["status"] != OK or not row.get("wall_s"):
        return None
    return base / row["wall_s"]


def efficiency(engine: str, row: dict, rows: dict[str, dict]) -> float | None:
    """Parallel efficiency: serial work / (workers x wall); None for one-process baselines."""
    s = speedup(row, rows)
    parallel = ENGINES[engine].parallel if engine in ENGINES else True
    return None if s is None or not parallel else s / row["workers"]


# ----------------------------------------------------------------------------- formatting
def _num(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _mb(value: int | None) -> str:
    return "–" if not value else f"{value / MB:,.0f}"


def _size(nbytes: float) -> str:
    return f"{nbytes / MB:,.0f} MB" if nbytes >= 10 * MB else f"{nbytes / 1e3:,.0f} kB"


def scenario_table(name: str, rows: dict[str, dict]) -> str:
    """Markdown table of one scenario, engines in the suite's order."""
    if SCENARIOS[name].latency:
        head = (
            "| engine | status | median ms | min ms | max ms | peak memory MB | note |\n"
            "|---|---|--:|--:|--:|--:|---|"
        )
        lines = [head]
        for engine, row in ordered(rows):
            lat = row.get("latencies_ms") or []
            lines.append(
                f"| {engine} | {row['status']} | {_num(row.get('latency_ms'), '.1f')} | "
                f"{_num(min(lat) if lat else None, '.1f')} | "
                f"{_num(max(lat) if lat else None, '.1f')} | "
                f"{_mb(row.get('memory_peak'))} | {row.get('note', '')} |"
            )
        return "\n".join(lines)
    head = (
        "| engine | status | wall s | rows/s | speedup | efficiency | peak memory MB "
        "(PSS + /dev/shm) | max worker RSS MB | moved to workers MB | CPU s | other load, cores | note |\n"
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
    )
    lines = [head]
    for engine, row in ordered(rows):
        ok = row["status"] == OK
        lines.append(
            f"| {engine} | {row['status']} | {_num(row.get('wall_s') if ok else None, '.2f')} | "
            f"{_num(row.get('rows_per_s') if ok else None, ',.0f')} | "
            f"{_num(speedup(row, rows), '.2f')} | {_num(efficiency(engine, row, rows), '.2f')} | "
            f"{_mb(row.get('memory_peak'))} | {_mb(row.get('max_child_rss'))} | "
            f"{_mb(row.get('bytes_moved'))} | {_num(row.get('cpu_s') if ok else None, '.1f')} | "
            f"{_num(row.get('background_cores'), '.2f')} | {row.get('note', '')} |"
        )
    return "\n".join(lines)


def ordered(rows: dict[str, dict]) -> list[tuple[str, dict]]:
    """Rows in the order of ``ENGINES`` (unknown engines last)."""
    order = {name: i for i, name in enumerate(ENGINES)}
    return sorted(rows.items(), key=lambda kv: order.get(kv[0], len(order)))


# ----------------------------------------------------------------------------- bars
@dataclass(frozen=True)
class Bar:
    """One line of DESIGN.md §4: ``check(runs)`` gives (measured text, passed) or None."""

    what: str
    scenario: str
    text: str
    check: Callable[[dict[str, dict[str, dict]]], tuple[str, bool] | None]


def _rowpool(runs: dict, scenario: str) -> dict | None:
    row = runs.get(scenario, {}).get("rowpool")
    return row if row and row["status"] == OK else None


def memory_limit(input_bytes: float) -> float:
    """The memory bar: all processes together <= 1.15 x the frame + 300 MB."""
    return 1.15 * input_bytes + 300 * MB


def _memory_bar(runs: dict) -> tuple[str, bool] | None:
    row = _rowpool(runs, "bigmem")
    if not row:
        return None
    limit = memory_limit(row["input_bytes"])
    return (
        f"{row['memory_peak'] / MB:,.0f} MB vs limit {limit / MB:,.0f} MB "
        f"(frame {row['input_bytes'] / MB:,.0f} MB)",
        row["memory_peak"] <= limit,
    )


def _outofcore_bar(runs: dict) -> tuple[str, bool] | None:
    row = _rowpool(runs, "outofcore")  # OK: its output equals serial's read_parquet + apply
    if not row:
        return None
    limit = SCENARIOS["outofcore"].job.max_memory + 500 * MB
    return (
        f"{row['memory_peak'] / MB:,.0f} MB vs limit {limit / MB:,.0f} MB "
        f"(file {row['input_bytes'] / MB:,.0f} MB in memory)",
        row["memory_peak"] <= limit,
    )


def _seed_bar(runs: dict) -> tuple[str, bool] | None:
    row = _rowpool(runs, "seed")
    if not row:
        return None
    return f"max worker RSS {row['max_child_rss'] / MB:,.0f} MB", row["max_child_rss"] <= 150 * MB


def _ratio_to_serial(runs: dict, scenario: str, engine: str) -> float | None:
    """``engine``'s rows/s over serial's in ``scenario`` (None unless both ran OK)."""
    rows = runs.get(scenario, {})
    row, serial = rows.get(engine), rows.get("serial")
    if not row or row["status"] != OK or not serial or serial["status"] != OK:
        return None
    return row["rows_per_s"] / serial["rows_per_s"]


def _overhead_bar(runs: dict) -> tuple[str, bool] | None:
    cold = _ratio_to_serial(runs, "overhead", "rowpool")
    if cold is None:
        return None
    again = _ratio_to_serial(runs, "overhead", "rowpool-again")
    if again is None:
        return f"cold {cold:.1f}x serial, second call not measured", False
    return f"cold {cold:.1f}x, second call {again:.1f}x serial", cold >= 30 and again >= 45


def _bigmem_wall_bar(runs: dict) -> tuple[str, bool] | None:
    ratio = _ratio_to_serial(runs, "bigmem", "rowpool")
    return None if ratio is None else (f"{1 / ratio:.3f}x serial's wall (cold)", 1 / ratio <= 0.05)


def _dtypes_bar(runs: dict) -> tuple[str, bool] | None:
    ratio = _ratio_to_serial(runs, "dtypes", "rowpool")
    return None if ratio is None else (f"{ratio:.1f}x serial (cold)", ratio >= 25)


def _tiny_bar(runs: dict) -> tuple[str, bool] | None:
    ratio = _ratio_to_serial(runs, "tiny", "rowpool")
    return None if ratio is None else (f"{1 / ratio:.2f}x serial's wall (cold)", 1 / ratio <= 1.1)


def _efficiency_parts(row: dict, rows: dict[str, dict]) -> str:
    """Efficiency is busy / CPU ratio: how much of ``workers x wall`` the job's processes used the
    CPU, and their CPU seconds against serial's for the same rows. Said beside a miss, the two
    tell idle workers (busy < 1) from CPU seconds that cost more in one run than in the other
    (the machine's speed drifts by 10% and more between runs on shared cores)."""
    serial = rows.get("serial", {}).get("cpu_s")
    if not row.get("cpu_s") or not row.get("wall_s") or not serial:
        return ""
    busy = row["cpu_s"] / (row["workers"] * row["wall_s"])
    return f" (busy {busy:.2f}: CPU s / (workers x wall); CPU s {row['cpu_s'] / serial:.2f}x serial's)"


def _efficiency_bar(scenario: str, floor: float) -> Callable[[dict], tuple[str, bool] | None]:
    def check(runs: dict) -> tuple[str, bool] | None:
        row = _rowpool(runs, scenario)
        eff = efficiency("rowpool", row, runs[scenario]) if row else None
        if eff is None:
            return None
        return f"efficiency {eff:.2f}{_efficiency_parts(row, runs[scenario])}", eff >= floor

    return check


def _wide_bar(runs: dict) -> tuple[str, bool] | None:
    rows = runs.get("wide", {})
    row, serial = rows.get("rowpool-pool"), serial_wall(rows)
    if not row or row["status"] != OK or serial is None:
        return None
    ratio = row["wall_s"] / serial
    return f"{ratio:.2f}x serial's wall (warm Pool)", ratio <= 2.0


def _start_bar(runs: dict) -> tuple[str, bool] | None:
    row = _rowpool(runs, "start")
    if not row:
        return None
    return f"{row['latency_ms']:.1f} ms", row["latency_ms"] < 50


BARS = (
    Bar(
        "memory",
        "bigmem",
        "sum of PSS <= 1.15 x frame + 300 MB (4 GB frame, 2 workers)",
        _memory_bar,
    ),
    Bar("seed", "seed", "no worker above 150 MB RSS", _seed_bar),
    Bar("bigmem wall", "bigmem", "wall <= 0.05x serial (cold)", _bigmem_wall_bar),
    Bar(
        "overhead",
        "overhead",
        "rows/s >= 30x serial df.apply cold, >= 45x on a second call",
        _overhead_bar,
    ),
    Bar("dtypes", "dtypes", ">= 25x serial (cold)", _dtypes_bar),
    Bar("tiny", "tiny", "10,000 x 1,000, trivial function, cold, <= 1.1x serial", _tiny_bar),
    # Issue 6 tightened DESIGN's 0.95 and 0.90.
    Bar("heavy", "heavy", "parallel efficiency >= 0.97", _efficiency_bar("heavy", 0.97)),
    Bar("skew", "skew", "parallel efficiency >= 0.95", _efficiency_bar("skew", 0.95)),
    Bar("skewgroups", "skewgroups", "parallel efficiency >= 0.9", _efficiency_bar("skewgroups", 0.9)),
    Bar("out of core", "outofcore", "peak PSS <= budget + 500 MB, output identical", _outofcore_bar),
    Bar("start", "start", "warm Pool, 1-row job < 50 ms", _start_bar),
    # Issue 17.1: rows that need their genuine Series must not cost a chunk's set-up each.
    Bar("wide", "wide", "warm Pool, wall <= 2x serial df.apply", _wide_bar),
)


def bars_table(runs: dict[str, dict[str, dict]]) -> str:
    """Markdown table: bar, measured, pass / MISS / not measured (with rowpool's status)."""
    lines = ["| bar | scenario | target | rowpool measured | result |", "|---|---|---|---|---|"]
    for bar in BARS:
        got = bar.check(runs)
        if got is None:
            row = runs.get(bar.scenario, {}).get("rowpool")
            measured = f"rowpool {row['status']}" if row else "not run"
            if not SCENARIOS[bar.scenario].enabled:
                measured = "scenario not implemented yet"
            verdict = "not measured"
        else:
            measured, passed = got
            verdict = "pass" if passed else "**MISS**"
        lines.append(f"| {bar.what} | {bar.scenario} | {bar.text} | {measured} | {verdict} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- plots
MEMORY_BAR_SCENARIOS = ("bigmem",)  # memory plots that show the DESIGN.md memory bar


def _label(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def plot_scenario(name: str, rows: dict[str, dict], path: Path) -> Path | None:
    """Horizontal bars of time and peak memory per engine (rowpool in red); None without
    matplotlib. Failed runs are labelled with their status; the memory bar is a dashed line."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    items = ordered(rows)
    labels = [engine for engine, _ in items]
    key, time_label = (
        ("latency_ms", "warm 1-row job, median ms") if SCENARIOS[name].latency else ("wall_s", "wall time, s")
    )
    times = [row.get(key) if row["status"] == OK else None for _, row in items]
    mems = [(row.get("memory_peak") or 0) / MB or None for _, row in items]
    input_bytes = max((row.get("input_bytes") or 0 for _, row in items), default=0)
    limit = memory_limit(input_bytes) / MB if name in MEMORY_BAR_SCENARIOS and input_bytes else 0
    colors = ["tab:red" if engine == "rowpool" else "tab:blue" for engine in labels]
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(labels) + 1.6), sharey=True)
    for ax, values, title, floor in (
        (axes[0], times, time_label, 0),
        (axes[1], mems, "peak memory, MB (PSS + /dev/shm)", limit),
    ):
        ax.barh(labels, [v or 0 for v in values], color=colors)
        top = max([v for v in values if v] + [floor, 1e-9])
        for y, ((_, row), v) in enumerate(zip(items, values, strict=True)):
            text = _label(v) if v and row["status"] == OK else row["status"]
            ax.text((v or 0) + top * 0.01, y, text, va="center", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_xlim(0, top * 1.25)
        ax.grid(axis="x", alpha=0.3)
    if limit:
        axes[1].axvline(limit, color="tab:red", ls="--", lw=1)
        axes[1].text(limit, len(labels) - 0.4, " memory bar", color="tab:red", fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle(f"{name}: {SCENARIOS[name].summary}"[:110], fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- the document
PEERS_EXCLUDED = ("serial", "serial-pd2", "rowpool", "rowpool-pool")  # not "peers" in the summary


def _measure(name: str, row: dict) -> float | None:
    """The time that ranks engines in a scenario: wall s, or median latency ms for ``start``."""
    if row["status"] != OK:
        return None
    return row.get("latency_ms" if SCENARIOS[name].latency else "wall_s")


def _fmt_time(name: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} ms" if SCENARIOS[name].latency else f"{value:.2f} s"


def _fmt_mb(value: float | None) -> str:
    return "–" if not value else f"{value / MB:,.0f} MB"


def summary_table(runs: dict[str, dict[str, dict]]) -> str:
    """One line per scenario: serial, rowpool, the fastest and the leanest OK peer."""
    lines = [
        "| scenario | serial | rowpool | rowpool speedup | fastest peer | rowpool peak memory "
        "| leanest peer |",
        "|---|--:|--:|--:|---|--:|---|",
    ]
    for name in SCENARIOS:
        rows = runs.get(name)
        if not rows:
            continue
        fmt = functools.partial(_fmt_time, name)
        serial = _measure(name, rows["serial"]) if "serial" in rows else None
        rp = rows.get("rowpool")
        rp_time = _measure(name, rp) if rp else None
        rp_cell = fmt(rp_time) if rp_time is not None else (rp["status"] if rp else "not run")
        gain = serial / rp_time if serial and rp_time else None
        peers = [(e, r) for e, r in rows.items() if e not in PEERS_EXCLUDED and r["status"] == OK]
        fast = min(peers, key=lambda er: _measure(name, er[1]) or float("inf"), default=None)
        lean = min(peers, key=lambda er: er[1].get("memory_peak") or float("inf"), default=None)
        lines.append(
            f"| {name} | {fmt(serial)} | {rp_cell} | {_num(gain, '.2f')} | "
            + (f"{fast[0]} {fmt(_measure(name, fast[1]))}" if fast else "–")
            + f" | {_fmt_mb(rp.get('memory_peak') if rp else None)} | "
            + (f"{lean[0]} {_fmt_mb(lean[1].get('memory_peak'))}" if lean else "–")
            + " |"
        )
    return "\n".join(lines)


def _header(results: dict) -> list[str]:
    machine = results["machine"]
    return [
        "# rowpool benchmarks",
        "",
        "Generated by `bench/run.py` (do not edit by hand; rerun it). Every run is one fresh "
        "process; with repeats, the engines run in interleaved rounds and numbers are medians. "
        "Method and caveats at the end.",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu']}, {machine['cores']} cores; RAM {machine['ram_gib']:.1f} GiB, "
        f"swap {machine['swap_gib']:.1f} GiB; Linux {machine['kernel']}",
        f"- measured on {results.get('date', '?')}; the machine is shared with builds and test "
        "runs: see the *other load* column",
        "",
        "## Commands",
        "",
        "```sh",
        "bash bench/setup_peers.sh   # bench/.venv: pandas 3, peers, rowpool from this checkout;",
        "                            # bench/.venv-pandas2: pandas 2 + pandarallel, mapply, parallel-pandas",
        *results.get("commands", []),
        "python bench/run.py --smoke --out /tmp/rowpool-smoke   # CI: tiny sizes, exit 1 on any failure",
        "```",
        "",
    ]


def _scenario_section(name: str, rows: dict[str, dict], md_path: Path, plot_dir: Path) -> list:
    any_row = next(iter(rows.values()))
    serial = rows.get("serial", {})
    per_row = (
        f" Serial cost {serial['wall_s'] / serial['rows'] * 1e3:.3g} ms per row."
        if serial.get("status") == OK and serial.get("rows") and not SCENARIOS[name].latency
        else ""
    )
    out = [
        f"## {name}",
        "",
        f"{SCENARIOS[name].summary}. {any_row.get('rows', 0):,} rows, input "
        f"{_size(any_row.get('input_bytes', 0))}, {any_row['workers']} workers, "
        f"{any_row.get('repeat', 1)} repeat(s).{per_row}",
        "",
        scenario_table(name, rows),
        "",
    ]
    plot = plot_scenario(name, rows, plot_dir / f"{name}.png")
    if plot:
        out += [f"![{name}]({Path(_relpath(plot, md_path.parent)).as_posix()})", ""]
    return out


def _versions_table(versions: dict[str, dict[str, str]]) -> list[str]:
    out = ["## Versions", "", "| package | main env | pandas-2 env |", "|---|---|---|"]
    for pkg in sorted({k for env in versions.values() for k in env}):
        out.append(
            f"| {pkg} | {versions.get('main', {}).get(pkg, '–')} | "
            f"{versions.get('pandas2', {}).get(pkg, '–')} |"
        )
    return out + [""]


def _engines_table() -> list[str]:
    out = ["## Engines", "", "| engine | what | interpreter |", "|---|---|---|"]
    for engine in ENGINES.values():
        env = "bench/.venv-pandas2 (pandas 2)" if engine.env == "pandas2" else "main"
        out.append(f"| {engine.name} | {engine.summary} | {env} |")
    return out + [""]


def render(results: dict, md_path: Path, plot_dir: Path) -> str:
    """BENCHMARKS.md text (writing the plots into ``plot_dir`` on the way)."""
    runs = results["runs"]
    out = _header(results)
    out += ["## DESIGN.md §4 bars (rowpool)", "", bars_table(runs), ""]
    out += ["## Summary", "", summary_table(runs), ""]
    out += ["## Scenarios", "", "| scenario | rows | what |", "|---|--:|---|"]
    for name, sc in SCENARIOS.items():
        rows = next(iter(runs.get(name, {}).values()), {}).get("rows")
        shown = f"{rows:,}" if rows else ("–" if not sc.enabled else f"{sc.rows:,}")
        out.append(f"| {name} | {shown} | {sc.summary} |")
    out.append("")
    for name in SCENARIOS:
        if name in runs:
            out += _scenario_section(name, runs[name], md_path, plot_dir)
    # Written by scaling.py, by outofcore.py, and by hand (cluster runs, history, columns moved,
    # issue 16's runs).
    sections = (
        "scaling.md",
        "outofcore.md",
        "cluster.md",
        "history.md",
        "projection.md",
        "pandas-integration.md",
    )
    for written in sections:
        section = Path(__file__).with_name(written)
        if section.exists():
            out += [section.read_text().rstrip(), ""]
    out += _versions_table(results.get("versions", {}))
    out += _engines_table()
    out.append(PEER_NOTES)
    out.append(METHOD)
    return "\n".join(out)


def _relpath(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(path, start)


METHOD = """## Method

- **One fresh process per run** (`bench/child.py`): it builds the input, then times
  `with session: call(df)`, so pool start-up and shutdown are in the wall time (a user calling the
  library once pays them). The input is built before the clock starts and is in memory throughout.
- **Memory**: every ~50 ms (250 ms in heavy and skew, where the sampler's CPU would skew the
  efficiency) the runner reads `/proc/PID/smaps_rollup` of every process below it (it is a child
  subreaper, so escaped workers still count); it samples less often when that costs more than 5%
  of one core (~1 ms per process per sample). Memory = sum of `Pss` + what /dev/shm
  gained during the run and no process maps (`max(0, shm growth - sum of Pss_Shmem)`). The peak
  over the timed window is reported; it includes the input frame held by the parent.
  *Max worker RSS* is the largest RSS of any process other than the run's own.
- **CPU s**: user + system of the run's process over the timed window plus the last sampled CPU
  time of every descendant. **Other load** = cores kept busy meanwhile by processes outside the
  run (from `/proc/stat`, the sampler itself included): the machine is shared, so a row with a
  high value ran on fewer free cores than it asked for.
- **Efficiency** = serial wall / (workers x wall), serial = `df.apply(f, axis=1)` under pandas 3 in
  the main env (serial-pd2 is the pandas-2 baseline for pandarallel, mapply, parallel-pandas).
- **Correctness**: every result is compared with the serial result
  (`pandas.testing.assert_series_equal`); a difference is a WRONG row.
- **Chunk-based peers** (multiprocessing, concurrent.futures, joblib, dask) get 4 chunks per worker,
  built by `df.iloc` slices, except in `seed`, where every engine that takes a chunk size uses
  100-row chunks, and the multiprocessing/futures/joblib peers use the seed's in-place-drop
  generator.
- **Quiet machine**: before each run the runner waits (up to 30 s, `--quiet-wait`) until other
  processes keep less than 0.3 cores busy; *other load* tells how well that worked.
- **Guards**: a run whose tree passes 20 GiB is killed (OOM); one past its time limit is killed
  (TIMEOUT); a crash or exception is ERROR. Processes still alive 3 s after the run's process ended
  are killed and counted in the note ("left N processes").
"""

PEER_NOTES = """## Notes on the peers

From their code paths as seen in these runs:

- **swifter** first tries `f` on the whole frame (vectorized); where that works (bigmem, start) it
  is fast but returns a Series named after a column, not pandas' unnamed Series (WRONG), and `f`
  is not called once per row. Otherwise it times a sample, then uses dask or plain pandas.
- **mapply** and **swifter** keep small inputs in the calling process (no workers in the start
  scenario); their start numbers are not a warm-pool round trip.
- **pandarallel** passes data through /dev/shm files; **joblib** memory-maps large arrays to
  /dev/shm; both are in the memory column through the /dev/shm term.
- **mapply 0.2.0** needs pandas 3 but fails in `mapply.init` on pandas 3.1 (`BaseWindowGroupby`);
  pandarallel 1.6.5 and parallel-pandas 0.8 fail at import on pandas 3.1. They run under pandas 2
  (pip picks mapply 0.1.31 there); compare them with **serial-pd2**.
"""
