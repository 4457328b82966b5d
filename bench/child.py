"""One benchmark run, in its own fresh process: build the input, run one engine, save the result.

Started by ``bench/run.py`` (under the main python or ``bench/.venv-pandas2``'s), never imported by
it. Writes into ``--out``: ``result.pkl`` (the engine's output, compared by the runner with the
serial result) and ``timing.json`` (monotonic start/end of the timed part, CPU of this process,
input size; ``latencies`` for the start scenario). A failure exits non-zero with the traceback on
stderr. ``--versions PKG ...`` instead prints the interpreter's and packages' versions as JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engines import ENGINES  # noqa: E402
from bench.scenarios import SCENARIOS, START_CALLS  # noqa: E402


def _cpu_self() -> float:
    """User + system CPU seconds of this process (its children are sampled by the runner)."""
    t = os.times()
    return t.user + t.system


def versions(packages: list[str]) -> dict[str, str]:
    """Versions of python and of the given distributions ("-" where not installed)."""
    from importlib import metadata

    found = {"python": platform.python_version()}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "-"
    return found


def _reader(source, engine_name: str):
    """What turns the scenario's input into the engine's: a file scenario's Parquet file is read
    with ``pandas.read_parquet`` (timed) for every engine but rowpool, which streams it."""
    if not isinstance(source, str) or engine_name.startswith("rowpool"):
        return lambda x: x
    import pandas as pd

    return pd.read_parquet


def _bytes_moved() -> int | None:
    """Bytes rowpool's last job run on workers moved to them (chunks and fetched columns), when this
    process ran one (jobs of a Dask cluster's workers are not counted)."""
    projection = sys.modules.get("rowpool._projection")
    if projection is None:
        return None
    return projection.last_traffic().total or None


def run(scenario_name: str, engine_name: str, workers: int, smoke: bool, out: Path) -> None:
    """Build the scenario's input, run the engine on it, write result.pkl and timing.json."""
    scenario = SCENARIOS[scenario_name]
    engine = ENGINES[engine_name]
    df = scenario.make(scenario.n_rows(smoke))
    if isinstance(df, str):  # a file scenario: rows and bytes as stored (uncompressed)
        import pyarrow.parquet as pq

        metadata = pq.read_metadata(df)
        sizes = [metadata.row_group(g).total_byte_size for g in range(metadata.num_row_groups)]
        timing = {"rows": metadata.num_rows, "input_bytes": sum(sizes), "pid": os.getpid()}
    else:
        timing = {"rows": len(df), "input_bytes": int(df.memory_usage(deep=True).sum()), "pid": os.getpid()}
    read = _reader(df, engine_name)
    gc.collect()
    if scenario.latency:
        with engine.latency_session()(scenario.job, workers) as call:
            call(df.copy())  # warm-up: starts the workers
            latencies = []
            timing["t_start"], timing["cpu_start"] = time.monotonic(), _cpu_self()
            for _ in range(START_CALLS):
                t0 = time.perf_counter()
                result = call(df.copy())
                latencies.append(time.perf_counter() - t0)
            timing["t_end"], timing["cpu_end"] = time.monotonic(), _cpu_self()
        timing["latencies"] = latencies
    elif engine.warm:
        # Warm engines: the workers are up before the timer starts (their start-up is not timed;
        # ``rerun``: a first call on the same input started them).
        with engine.session(scenario.job, workers) as call:
            if engine.rerun:
                call(read(df))
                gc.collect()
            timing["t_start"], timing["cpu_start"] = time.monotonic(), _cpu_self()
            result = call(read(df))
            timing["t_end"], timing["cpu_end"] = time.monotonic(), _cpu_self()
    else:
        timing["t_start"], timing["cpu_start"] = time.monotonic(), _cpu_self()
        with engine.session(scenario.job, workers) as call:
            result = call(read(df))
        timing["t_end"], timing["cpu_end"] = time.monotonic(), _cpu_self()
    moved = _bytes_moved()
    if moved is not None:
        timing["bytes_moved"] = moved
    del df
    with open(out / "result.pkl", "wb") as fh:
        pickle.dump(result, fh, protocol=4)
    (out / "timing.json").write_text(json.dumps(timing))


def main(argv: list[str] | None = None) -> int:
    """Command line of one run (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--engine", choices=sorted(ENGINES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--versions", nargs="*", metavar="PKG")
    args = parser.parse_args(argv)
    if args.versions is not None:
        print(json.dumps(versions(args.versions)))
        return 0
    run(args.scenario, args.engine, args.workers, args.smoke, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
