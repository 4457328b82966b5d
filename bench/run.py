"""rowpool benchmark suite: run every scenario on every engine, each run in a fresh process.

    python bench/run.py [--workers 2] [--repeat N] [--scenario S ...] [--engines E ...]
                        [--smoke] [--out DIR]

Without ``--out`` (and without ``--smoke``) it writes BENCHMARKS.md at the repository root, plots
into bench/plots/ and the raw numbers into bench/results.json, merging with the results already
there (so one scenario or engine can be rerun alone). ``--smoke`` runs tiny sizes on the engines
that need nothing beyond rowpool's test extras, writes into ``--out`` (else a temporary directory)
and exits non-zero if any run is not OK. Engines of the pandas-2 env run under
bench/.venv-pandas2/bin/python (see bench/setup_peers.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench import report  # noqa: E402
from bench.engines import ENGINES, Engine  # noqa: E402
from bench.measure import GiB, become_subreaper, run_measured, wait_for_quiet  # noqa: E402
from bench.scenarios import SCENARIOS, Scenario  # noqa: E402

PANDAS2_PYTHON = HERE / ".venv-pandas2" / "bin" / "python"
SMOKE_TIMEOUT_S = 120
STATUS_ORDER = ("OK", "WRONG", "ERROR", "TIMEOUT", "OOM")  # the worst of the repeats is reported
VERSION_PACKAGES = ("pandas", "numpy", "pyarrow", "cloudpickle", "psutil", "matplotlib") + tuple(
    dict.fromkeys(pkg for engine in ENGINES.values() for pkg in engine.packages)
)


# ----------------------------------------------------------------------------- one run
def compare(result: object, expected: object) -> str | None:
    """None if ``result`` equals the serial ``expected`` as pandas.testing sees it, else why not."""
    import pandas as pd
    import pandas.testing as pdt

    try:
        if isinstance(expected, pd.Series):
            pdt.assert_series_equal(result, expected)
        elif isinstance(expected, pd.DataFrame):
            pdt.assert_frame_equal(result, expected)
        elif result != expected:
            return f"{result!r} != {expected!r}"
    except (AssertionError, TypeError, ValueError) as exc:
        return " ".join(str(exc).split())[:200]
    return None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "no output")[:200].replace("|", "/")


def child_command(python: Path, scenario: Scenario, engine: Engine, args, out: str) -> list:
    """The command line of one run (``bench/child.py``)."""
    cmd = [str(python), str(HERE / "child.py"), "--scenario", scenario.name]
    cmd += ["--engine", engine.name, "--workers", str(args.workers), "--out", out]
    return cmd + (["--smoke"] if args.smoke else [])


def memory_metrics(outcome, timing: dict) -> dict:
    """Peaks over the timed window (the whole run if it did not get that far)."""
    samples = outcome.sampler.window(timing.get("t_start"), timing.get("t_end"))
    peak = {
        key: max((getattr(s, attr) for s in samples), default=0)
        for key, attr in (
            ("memory_peak", "memory"),
            ("pss_peak", "pss"),
            ("shm_extra_peak", "shm_extra"),
            ("max_child_rss", "max_child_rss"),
        )
    }
    peak["samples"] = len(samples)
    peak["background_cores"] = outcome.sampler.background_cores(samples)
    peak["sampler_cpu_s"] = outcome.sampler.overhead_cpu
    return peak


def run_once(
    scenario: Scenario, engine: Engine, args, python: Path | None, expected: object
) -> tuple[dict, object]:
    """One measured run of ``engine`` on ``scenario``: (record, result or None)."""
    record = {"status": "ERROR", "note": "", "workers": args.workers}
    if python is None:
        record["note"] = "no pandas-2 env: run bench/setup_peers.sh"
        return record, None
    if args.quiet_wait > 0 and not args.smoke:
        wait_for_quiet(args.quiet_wait)
    with tempfile.TemporaryDirectory(prefix="rowpool-bench-") as tmp:
        tmp_path = Path(tmp)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        outcome = run_measured(
            child_command(python, scenario, engine, args, tmp),
            env=env,
            cwd=ROOT,
            timeout=args.timeout or (SMOKE_TIMEOUT_S if args.smoke else scenario.timeout_s),
            limit_bytes=int(args.limit_gib * GiB),
            interval=scenario.sample_interval_s,
            stderr_path=tmp_path / "output.txt",
        )
        timing_file = tmp_path / "timing.json"
        timing = json.loads(timing_file.read_text()) if timing_file.exists() else {}
        record.update(memory_metrics(outcome, timing))
        notes = [f"left {outcome.leaked} processes"] if outcome.leaked else []
        result = None
        if outcome.oom:
            record["status"] = "OOM"
            notes.insert(0, f"killed past {args.limit_gib:g} GiB")
        elif outcome.timed_out:
            record["status"] = "TIMEOUT"
            notes.insert(0, f"killed after {outcome.wall_process:.0f} s")
        elif outcome.returncode != 0 or not timing:
            notes.insert(0, _last_line(outcome.stderr))
        else:
            record.update(_timing_metrics(timing, outcome))
            try:
                with open(tmp_path / "result.pkl", "rb") as fh:
                    result = pickle.load(fh)
            except Exception as exc:  # a result the main pandas cannot read is that run's error
                notes.insert(0, f"cannot load the result: {exc!r}"[:200])
            else:
                why = compare(result, expected) if expected is not None else None
                record["status"] = "WRONG" if why else "OK"
                if why:
                    notes.insert(0, why)
                elif expected is None and engine.name != "serial":
                    notes.append("unchecked: no serial result")
        record["note"] = "; ".join(notes)
    return record, result


def _timing_metrics(timing: dict, outcome) -> dict:
    """Wall, rows/s, CPU (this process over the window + every descendant) from one run."""
    wall = timing["t_end"] - timing["t_start"]
    child_cpu = sum(cpu for (pid, _), cpu in outcome.sampler.cpu.items() if pid != timing["pid"])
    metrics = {
        "wall_s": wall,
        "rows": timing["rows"],
        "rows_per_s": timing["rows"] / wall if wall > 0 else None,
        "input_bytes": timing["input_bytes"],
        "cpu_s": timing["cpu_end"] - timing["cpu_start"] + child_cpu,
    }
    if "bytes_moved" in timing:
        metrics["bytes_moved"] = timing["bytes_moved"]
    if "latencies" in timing:
        metrics["latencies_ms"] = [t * 1e3 for t in timing["latencies"]]
        metrics["latency_ms"] = statistics.median(metrics["latencies_ms"])
    return metrics


def summarize(records: list[dict], repeat: int) -> dict:
    """Median of each numeric metric over the OK repeats; the worst status; all the notes."""
    worst = max(records, key=lambda r: STATUS_ORDER.index(r["status"]))
    ok = [r for r in records if r["status"] == "OK"] or records
    row = {"status": worst["status"], "workers": worst["workers"], "repeat": repeat}
    for key in (
        "wall_s",
        "rows",
        "rows_per_s",
        "input_bytes",
        "cpu_s",
        "memory_peak",
        "pss_peak",
        "shm_extra_peak",
        "max_child_rss",
        "latency_ms",
        "samples",
        "background_cores",
        "sampler_cpu_s",
        "bytes_moved",
    ):
        values = [r[key] for r in ok if r.get(key) is not None]
        if values:
            row[key] = statistics.median(values)
    if ok[0].get("latencies_ms"):
        row["latencies_ms"] = ok[0]["latencies_ms"]
    row["note"] = "; ".join(dict.fromkeys(r["note"] for r in records if r["note"]))
    return row


# ----------------------------------------------------------------------------- the suite
def progress_line(scenario: Scenario, engine: Engine, record: dict) -> str:
    """One line per run on stdout."""
    if scenario.latency and "latency_ms" in record:
        timing = f"median={record['latency_ms']:8.1f}ms"
    elif "wall_s" in record:
        timing = f"wall={record['wall_s']:8.2f}s  "
    else:
        timing = "wall=       –   "
    return (
        f"  {scenario.name:9s} {engine.name:16s} {record['status']:7s} {timing} "
        f"mem={record.get('memory_peak', 0) / 1e6:9,.0f}MB "
        f"worker_rss={record.get('max_child_rss', 0) / 1e6:7,.0f}MB "
        f"moved={record.get('bytes_moved', 0) / 1e6:9,.0f}MB {record['note'][:90]}"
    )


def run_scenario(scenario: Scenario, engines: list[Engine], args, pythons: dict) -> dict:
    """All engines on one scenario, in rounds of one run per engine (serial first: its result is
    the reference). Interleaving makes the machine's drift over minutes hit every engine alike, so
    the ratios between engines stay fair on a shared, noisy machine."""
    expected = None
    if scenario.job.group_by:  # groupby-apply: only the engines that have one
        engines = [engine for engine in engines if engine.groups]
    engines = [
        e
        for e in engines
        if (e.scenarios is None or scenario.name in e.scenarios)
        and (scenario.engines is None or e.name == "serial" or e.name in scenario.engines)
    ]
    records: dict[str, list] = {engine.name: [] for engine in engines}
    for _ in range(args.repeat):
        for engine in engines:
            record, result = run_once(scenario, engine, args, pythons.get(engine.env), expected)
            if engine.name == "serial" and record["status"] == "OK" and expected is None:
                expected = result
            records[engine.name].append(record)
            print(progress_line(scenario, engine, record), flush=True)
    return {name: summarize(runs, args.repeat) for name, runs in records.items()}


def machine_info() -> dict:
    """Cores, RAM, swap, CPU model, kernel."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "ram_gib": psutil.virtual_memory().total / GiB,
        "swap_gib": psutil.swap_memory().total / GiB,
        "cpu": cpu,
        "kernel": platform.release(),
    }


def versions(pythons: dict, used_envs: set[str]) -> dict:
    """Package versions as each interpreter in use sees them."""
    import subprocess

    found = {}
    for env in sorted(used_envs):
        python = pythons.get(env)
        if python is None:
            continue
        out = subprocess.run(
            [str(python), str(HERE / "child.py"), "--versions", *VERSION_PACKAGES],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if out.returncode == 0:
            found[env] = json.loads(out.stdout)
    return found


def select(args) -> tuple[list[Scenario], list[Engine]]:
    """The scenarios and engines asked for (smoke: only engines that need test extras only)."""
    names = args.scenario or [n for n, s in SCENARIOS.items() if s.enabled]
    scenarios = []
    for name in names:
        if SCENARIOS[name].enabled:
            scenarios.append(SCENARIOS[name])
        else:
            print(f"scenario {name}: not implemented yet (hook in bench/scenarios.py), skipped")
    engine_names = args.engines or [n for n, e in ENGINES.items() if e.smoke or not args.smoke]
    if "serial" not in engine_names:  # the reference of every scenario
        engine_names.insert(0, "serial")
    engine_names.sort(key=lambda n: n != "serial")
    return scenarios, [ENGINES[n] for n in engine_names]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="workers per engine (default 2)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine; medians reported")
    parser.add_argument(
        "--scenario",
        nargs="+",
        choices=list(SCENARIOS),
        metavar="S",
        help=f"scenarios to run (default: all implemented; {', '.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--engines",
        nargs="+",
        choices=list(ENGINES),
        metavar="E",
        help=f"engines (default: all; {', '.join(ENGINES)}); serial always runs",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, test-extras engines only; non-zero exit on any failure",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="output directory (BENCHMARKS.md, plots/, "
        "results.json); default: the repository (a temp dir with --smoke)",
    )
    parser.add_argument(
        "--limit-gib",
        type=float,
        default=20.0,
        help="memory guard: kill a run whose tree passes this (default 20)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="only rewrite BENCHMARKS.md and the plots from the saved results.json",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help=f"time limit of one run in s (default: per scenario, {SMOKE_TIMEOUT_S} with --smoke)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        help="before each run, wait up to this many seconds for the machine's other load to drop "
        "below 0.3 cores (default 30; 0: don't wait)",
    )
    parser.add_argument(
        "--pandas2-python",
        type=Path,
        default=PANDAS2_PYTHON,
        help="interpreter of the pandas-2 peers (default bench/.venv-pandas2)",
    )
    return parser.parse_args(argv)


def output_paths(args) -> tuple[Path, Path, Path]:
    """(BENCHMARKS.md, plot directory, results.json) for this invocation."""
    if args.out is None and not args.smoke:
        return ROOT / "BENCHMARKS.md", HERE / "plots", HERE / "results.json"
    out = args.out or Path(tempfile.mkdtemp(prefix="rowpool-smoke-"))
    if args.smoke and out.resolve() == ROOT:
        sys.exit("--smoke must not overwrite the repository's BENCHMARKS.md: pick another --out")
    out.mkdir(parents=True, exist_ok=True)
    return out / "BENCHMARKS.md", out / "plots", out / "results.json"


def save(results: dict, md_path: Path, plot_dir: Path, json_path: Path) -> None:
    """Write results.json, the plots and BENCHMARKS.md."""
    runs = results.get("runs", {})
    results["commands"] = sorted(
        {row["command"] for rows in runs.values() for row in rows.values() if "command" in row}
    )
    json_path.write_text(json.dumps(results, indent=1, sort_keys=True))
    md_path.write_text(report.render(results, md_path, plot_dir))


def main(argv: list[str] | None = None) -> int:
    """Run the suite, write the report; with --smoke, exit 1 if any run is not OK."""
    args = parse_args(argv)
    md_path, plot_dir, json_path = output_paths(args)
    results = json.loads(json_path.read_text()) if json_path.exists() else {}
    if args.report_only:
        save(results, md_path, plot_dir, json_path)
        print(f"wrote {md_path}")
        return 0
    become_subreaper()
    scenarios, engines = select(args)
    pythons = {
        "main": Path(sys.executable),
        "pandas2": args.pandas2_python if args.pandas2_python.exists() else None,
    }
    exe = Path(sys.executable)
    python = os.path.relpath(exe, ROOT) if exe.is_relative_to(ROOT) else "python"
    command = f"{python} bench/run.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    print(f"{command}\n-> {md_path}")

    runs = results.setdefault("runs", {})
    results["machine"] = machine_info()
    results["date"] = time.strftime("%Y-%m-%d")
    results["versions"] = {
        **results.get("versions", {}),
        **versions(pythons, {e.env for e in engines}),
    }
    for scenario in scenarios:  # saved after each scenario: an interrupted suite keeps its rows
        rows = run_scenario(scenario, engines, args, pythons)
        for row in rows.values():
            row["command"] = command
        runs.setdefault(scenario.name, {}).update(rows)
        save(results, md_path, plot_dir, json_path)
    print(f"wrote {md_path}")

    failed = [
        f"{s.name}/{e.name}={runs[s.name][e.name]['status']}"
        for s in scenarios
        for e in engines
        if e.name in runs[s.name] and runs[s.name][e.name]["status"] != "OK"
    ]
    if failed:
        print("not OK: " + ", ".join(failed))
    return 1 if args.smoke and failed else 0


if __name__ == "__main__":
    sys.exit(main())
