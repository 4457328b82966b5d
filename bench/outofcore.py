"""Issue 14's file benchmarks, each engine in its own process, its whole tree sampled (bench/measure):

    ratio      the overhead workload (bench/scenarios: 8 mixed columns) stored as Parquet:
               rowpool.apply(path, output=) and `rowpool run` vs rowpool.apply on the same rows in
               memory (the frame read before the timed part); the bar is >= 0.8x its rows/s. The
               timed part of `rowpool run` is the job its summary line reports (without the
               interpreter's start, imports and loading FUNC); process wall has it all
    narrow     the same workload, a file twice --narrow-budget, within that budget
    wide       1,000 float columns (bench/scenarios.parquet_file), a file twice --wide-budget

In the memory cases rowpool (apply(path, output=) within max_memory) runs beside dask.dataframe
(read_parquet + map_partitions(apply) + to_parquet, processes scheduler) and a serial pyarrow batch
loop (iter_batches -> to_pandas -> apply -> ParquetWriter): wall, rows/s, peak summed PSS. Every
output is compared with the in-memory rowpool.apply result on the same rows.

    python bench/outofcore.py [--cases ratio,narrow,wide] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import scenarios  # noqa: E402

MiB = 1 << 20
WIDE_FIELDS = 1000
CLI_SUMMARY = re.compile(r"^rowpool: [\d,]+ rows.* in ([\d.]+) s, ", re.MULTILINE)


def overhead_file(rows: int) -> str:
    """``scenarios.mixed_frame(rows)`` as a Parquet file, written once."""
    import pyarrow.parquet as pq

    path = os.path.join(tempfile.gettempdir(), f"rowpool-bench-overhead-{rows}.parquet")
    if not os.path.exists(path):
        frame = scenarios.mixed_frame(rows)
        frame.to_parquet(path + ".tmp", index=False, row_group_size=100_000)
        os.replace(path + ".tmp", path)
    assert pq.read_metadata(path).num_rows == rows
    return path


def arrow_bytes(path: str) -> int:
    import pyarrow.parquet as pq

    metadata = pq.read_metadata(path)
    return sum(metadata.row_group(g).total_byte_size for g in range(metadata.num_row_groups))


# ----------------------------------------------------------------------------- in the child
def _fn(name: str):
    return getattr(scenarios, name)


def child(engine: str, path: str, output: str, budget: int, fn_name: str, workers: int) -> dict:
    """Runs ``engine``; returns its timed seconds (the result is in ``output``, a Parquet file
    with a ``result`` column)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    fn = _fn(fn_name)
    if engine.startswith("rowpool"):
        import rowpool  # before the timer, for both rowpool engines: they time the job, not the import
    if engine == "rowpool-memory":
        frame = pd.read_parquet(path)
        start = time.perf_counter()
        result = rowpool.apply(frame, fn, workers=workers, progress=False)
        seconds = time.perf_counter() - start
        del frame
        pd.DataFrame({"result": result}).to_parquet(output, index=False)
        return {"seconds": seconds}
    start = time.perf_counter()
    if engine == "rowpool-file":
        rowpool.apply(
            path, fn, output=output, max_memory=budget, workers=workers, progress=False, overwrite=True
        )
    elif engine == "dask":
        import dask.dataframe as dd

        ddf = dd.read_parquet(path, split_row_groups=True)
        out = ddf.map_partitions(lambda p: p.apply(fn, axis=1).to_frame("result"), meta={"result": "f8"})
        out.to_parquet(
            output, write_index=False, compute_kwargs={"scheduler": "processes", "num_workers": workers}
        )
    elif engine == "pyarrow-loop":
        reader = pq.ParquetFile(path)
        writer = None
        batch_rows = max(1, budget // 10 // (8 * len(reader.schema_arrow)))  # a tenth of the budget
        for batch in reader.iter_batches(batch_size=batch_rows):
            values = batch.to_pandas().apply(fn, axis=1)
            table = pa.table({"result": pa.array(values.to_numpy(), pa.float64())})
            writer = writer or pq.ParquetWriter(output, table.schema)
            writer.write_table(table)
        writer.close()
    else:
        raise ValueError(engine)
    return {"seconds": time.perf_counter() - start}


# ----------------------------------------------------------------------------- in the parent
def measure(cmd: list[str], scratch: Path, name: str) -> tuple[dict, float, int]:
    """(the child's JSON line, its process wall, peak summed PSS of its tree)."""
    from bench.measure import run_measured

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    outcome = run_measured(
        cmd, env=env, cwd=scratch, timeout=1800, limit_bytes=12 << 30, stderr_path=scratch / f"{name}.log"
    )
    if outcome.returncode != 0:
        raise RuntimeError(f"{name} failed ({outcome.returncode}): {outcome.stderr[-2000:]}")
    lines = [line for line in outcome.stderr.splitlines() if line.startswith("{")]
    peak = max((s.memory for s in outcome.sampler.samples), default=0)
    if lines:
        return json.loads(lines[-1]), outcome.wall_process, peak
    summary = CLI_SUMMARY.search(outcome.stderr)  # `rowpool run` times its job itself
    return ({"seconds": float(summary.group(1))} if summary else {}), outcome.wall_process, peak


def run_engine(engine: str, path: str, budget: int, fn_name: str, workers: int, scratch: Path) -> dict:
    scratch.mkdir()
    output = scratch / f"{engine}.parquet"
    if engine == "rowpool-cli":
        module_func = f"bench.scenarios:{fn_name}"
        cmd = [
            sys.executable,
            "-m",
            "rowpool",
            "run",
            path,
            module_func,
            "-o",
            str(output),
            "--workers",
            str(workers),
            "--max-memory",
            str(budget),
            "--no-progress",
            "--overwrite",
        ]
    else:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            engine,
            path,
            str(output),
            str(budget),
            fn_name,
            str(workers),
        ]
    timing, wall, peak = measure(cmd, scratch, engine)
    return {
        "engine": engine,
        "seconds": timing.get("seconds", wall),
        "process_wall": wall,
        "peak_pss": peak,
        "output": str(output),
    }


def _read_result(path: str):
    """The ``result`` column of a Parquet file, or of dask's part.N.parquet files in N order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not os.path.isdir(path):
        return pq.read_table(path, columns=["result"])
    names = sorted(
        (n for n in os.listdir(path) if n.endswith(".parquet")), key=lambda n: int(re.findall(r"\d+", n)[0])
    )
    return pa.concat_tables(pq.read_table(os.path.join(path, n), columns=["result"]) for n in names)


def same_output(a: str, b: str) -> bool:

    left, right = _read_result(a), _read_result(b)
    return left.column("result").combine_chunks().equals(right.column("result").combine_chunks())


def run_case(name: str, path: str, budget: int, fn_name: str, engines: list[str], workers: int) -> list[dict]:
    import pyarrow.parquet as pq

    rows = pq.read_metadata(path).num_rows
    records = []
    with tempfile.TemporaryDirectory(prefix="rowpool-outofcore-") as directory:
        scratch = Path(directory)
        for number, engine in enumerate(engines):
            record = run_engine(engine, path, budget, fn_name, workers, scratch / str(number))
            record.update(
                case=name, rows=rows, budget=budget, input_bytes=arrow_bytes(path), load=os.getloadavg()[0]
            )
            records.append(record)
            print(json.dumps(record), flush=True)
        reference = next((r["output"] for r in records if r["engine"] == "rowpool-memory"), None)
        for record in records:
            record["identical"] = None if reference is None else same_output(reference, record["output"])
            if record["output"] != reference:
                shutil.rmtree(record["output"]) if os.path.isdir(record["output"]) else os.unlink(
                    record["output"]
                )
    return records


def table(records: list[dict]) -> str:
    lines = [
        "| case | engine | rows | input MB | budget MB | seconds | rows/s | process wall s | peak PSS MB "
        "| <= budget + 500 MB | identical to in-memory | load (1 min) |",
        "|" + "---|" * 12,
    ]
    for r in records:
        bound = "yes" if r["peak_pss"] <= r["budget"] + 500 * MiB else "NO"
        if r["engine"] == "rowpool-memory":
            bound = "(reference: holds the frame)"
        lines.append(
            f"| {r['case']} | {r['engine']} | {r['rows']:,} | {r['input_bytes'] / MiB:,.0f} | "
            f"{r['budget'] / MiB:,.0f} | {r['seconds']:.2f} | {r['rows'] / r['seconds']:,.0f} | "
            f"{r['process_wall']:.2f} | {r['peak_pss'] / MiB:,.0f} | {bound} | {r['identical']} | "
            f"{r['load']:.1f} |"
        )
    return "\n".join(lines)


def ratios(records: list[dict]) -> list[str]:
    """rows/s of each file engine over rowpool-memory's, per case (medians of repeated runs)."""
    import statistics

    out = []
    for case in dict.fromkeys(r["case"] for r in records):
        runs = [r for r in records if r["case"] == case]
        rate = {
            e: statistics.median(r["rows"] / r["seconds"] for r in runs if r["engine"] == e)
            for e in dict.fromkeys(r["engine"] for r in runs)
        }
        wall = {
            e: statistics.median(r["process_wall"] for r in runs if r["engine"] == e)
            for e in dict.fromkeys(r["engine"] for r in runs)
        }
        if "rowpool-memory" in rate:
            for engine in rate:
                if engine != "rowpool-memory":
                    out.append(
                        f"- {case}: {engine} {rate[engine] / rate['rowpool-memory']:.2f}x the rows/s of "
                        "rowpool.apply in memory (timed call only); whole process (start, read, run, "
                        f"write): "
                        f"{wall['rowpool-memory'] / wall[engine]:.2f}x"
                    )
    return out


def write_markdown(records: list[dict], argv: list[str]) -> None:
    import datetime

    text = [
        "## Files (issue 14): bench/outofcore.py",
        "",
        f"`python bench/outofcore.py {' '.join(argv)}`, {datetime.date.today()}, "
        f"{os.cpu_count()} cores shared with other sessions (load column: 1-minute load average when the "
        "run ended). Generated into bench/outofcore.md (do not edit by hand); see the script's docstring "
        "for what each engine does. rowpool-memory is the reference: `rowpool.apply` of the frame, read "
        "before the timed call; its process wall includes `read_parquet` and writing the result.",
        "",
        table(records),
        "",
        *ratios(records),
        "",
    ]
    (ROOT / "bench" / "outofcore.md").write_text("\n".join(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=6, metavar=("ENGINE", "PATH", "OUT", "BUDGET", "FN", "WORKERS"))
    parser.add_argument("--cases", default="ratio,narrow,wide")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="write bench/outofcore.md")
    parser.add_argument("--ratio-rows", type=int, default=1_000_000)
    parser.add_argument("--narrow-budget", type=int, default=128 * MiB)
    parser.add_argument("--wide-budget", type=int, default=512 * MiB)
    args = parser.parse_args()
    if args.child:
        engine, path, output, budget, fn_name, workers = args.child
        print(json.dumps(child(engine, path, output, int(budget), fn_name, int(workers))), file=sys.stderr)
        return
    from bench.measure import become_subreaper

    become_subreaper()
    records = []
    peers = ["rowpool-memory", "rowpool-file", "dask", "pyarrow-loop"]
    for case in args.cases.split(","):
        if case == "ratio":
            path = overhead_file(args.ratio_rows)
            engines = ["rowpool-memory", "rowpool-file", "rowpool-cli", "rowpool-memory", "rowpool-file"]
            records += run_case(case, path, 1 << 30, "overhead_row", engines, args.workers)
        elif case == "narrow":
            rows = 2 * args.narrow_budget // (arrow_bytes(overhead_file(100_000)) // 100_000)
            path = overhead_file(rows)
            records += run_case(case, path, args.narrow_budget, "overhead_row", peers, args.workers)
        elif case == "wide":
            path = scenarios.parquet_file(2 * args.wide_budget // (8 * WIDE_FIELDS), WIDE_FIELDS)
            records += run_case(case, path, args.wide_budget, "bigmem_row", peers, args.workers)
    print(table(records))
    print("\n".join(ratios(records)))
    if args.write:
        write_markdown(records, sys.argv[1:])


if __name__ == "__main__":
    main()
