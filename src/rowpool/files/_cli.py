"""``rowpool run``: a row (or batch) function over a file, results into a file, from the shell."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import time

EXAMPLES = """\
examples:
  rowpool run events.parquet scoring:score -o scores.parquet --keep id
  rowpool run 'logs/*.parquet' mymodule:parse -o parsed.csv.gz --columns ts,line --workers 8
  rowpool run big.csv features.py:transform -o out.arrow --batch --max-memory 4GB
  rowpool run events.parquet scoring:score -o scores.parquet --keep id --resume   # after a kill

MODULE:FUNC names a function in an importable module (the current directory is searched first)
or in a .py file. Without --batch it is called as func(row) for every row, like
df.apply(func, axis=1); with --batch as func(chunk) on DataFrame chunks, like map_batches.

exit status: 0 done; 1 the job failed (nothing published; --resume continues it); 2 bad
arguments or FUNC cannot be loaded; 3 done, but some rows failed (--errors coerce/collect: null
in the output); 130 interrupted (--resume continues it).
"""


def add_parser(commands) -> None:
    """Adds the ``run`` command to ``commands`` (argparse subparsers)."""
    parser = commands.add_parser(
        "run",
        help="run a function over every row of a file, results into a file",
        description="Runs FUNC over every row of SRC (Parquet, CSV, Arrow IPC; a directory or glob of "
        "Parquet files) on all cores, in bounded memory, and writes the results in input order to OUT.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", metavar="SRC", help="input file, directory or glob")
    parser.add_argument("function", metavar="MODULE:FUNC", help="the function to run")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output .parquet/.csv[.gz]/.arrow"
    )
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all CPUs)")
    parser.add_argument("--batch", action="store_true", help="call FUNC on DataFrame chunks (map_batches)")
    parser.add_argument("--columns", type=_names, default=None, metavar="A,B", help="read only these columns")
    parser.add_argument(
        "--keep", type=_names, default=(), metavar="ID", help="columns copied beside the result"
    )
    parser.add_argument("--resume", action="store_true", help="continue a killed or failed run")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--errors", choices=("raise", "coerce", "collect"), default="raise",
                        help="a failing row stops the job (raise), or becomes null (coerce), or is also "
                        "listed in OUT.failures.csv (collect)")  # fmt: skip
    parser.add_argument("--max-memory", default="1GB", metavar="SIZE", help="memory budget (default 1GB)")
    parser.add_argument("--chunk-rows", type=int, default=None, help="rows per chunk (default: measured)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def load_function(spec: str):
    """The function ``MODULE:FUNC`` names (MODULE a module name or a .py path). Its module is
    pickled by value, so workers need not be able to import it."""
    import cloudpickle

    module_name, _, attribute = spec.rpartition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected MODULE:FUNC, got {spec!r}")
    if module_name.endswith(".py") or os.sep in module_name:
        name = os.path.splitext(os.path.basename(module_name))[0]
        loader_spec = importlib.util.spec_from_file_location(name, module_name)
        if loader_spec is None or loader_spec.loader is None or not os.path.exists(module_name):
            raise FileNotFoundError(2, f"no such file: {module_name}", module_name)
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        loader_spec.loader.exec_module(module)
    else:
        sys.path.insert(0, os.getcwd())
        module = importlib.import_module(module_name)
    func = getattr(module, attribute, None)
    if not callable(func):
        raise ValueError(f"{module_name} has no function {attribute!r}")
    if not module.__name__.startswith("rowpool"):
        cloudpickle.register_pickle_by_value(module)
    return func


def _counted(number: int, noun: str, plural: str) -> str:
    return f"{number:,} {noun if number == 1 else plural}"


def summary_line(summary, wall: float, peak_bytes: int, processes: int) -> str:
    rows = summary.rows - summary.resumed_rows
    resumed = f" (+{summary.resumed_rows:,} resumed)" if summary.resumed_rows else ""
    return (
        f"rowpool: {rows:,} rows{resumed} in {wall:.2f} s, {rows / wall if wall > 0 else 0:,.0f} rows/s, "
        f"peak memory {peak_bytes / 2**20:,.0f} MiB (PSS of {_counted(processes, 'process', 'processes')}), "
        f"{_counted(summary.failures, 'failure', 'failures')} -> {summary.path}"
    )


# The library's errors name its keyword arguments; the command's user knows its flags.
FLAGS = {"overwrite=True": "--overwrite", "resume=True": "--resume"}


def describe_error(error: Exception) -> str:
    """``error`` as the command reports it: the message of rowpool's and the OS's errors (without
    the errno), the type and message of others; keyword arguments as the command's flags."""
    from rowpool.errors import RowpoolError

    if isinstance(error, OSError) and error.strerror:
        filename = error.filename
        named = filename is None or str(filename) in error.strerror
        described = error.strerror if named else f"{error.strerror}: {filename}"
    elif isinstance(error, (RowpoolError, OSError)):
        described = str(error)
    else:
        described = f"{type(error).__name__}: {error}"
    for keyword, flag in FLAGS.items():
        described = described.replace(keyword, flag)
    return described


def run_command(options) -> int:
    """Runs the job ``options`` describe; returns the exit status (see EXAMPLES)."""
    import rowpool
    from rowpool._memory import PeakTreePss

    try:
        func = load_function(options.function)
    except (ImportError, OSError, ValueError, SyntaxError) as error:
        print(f"rowpool: cannot load {options.function}: {error}", file=sys.stderr)
        return 2
    call = rowpool.map_batches if options.batch else rowpool.apply
    started = time.perf_counter()
    try:
        with PeakTreePss() as peak:
            summary = call(
                options.source, func, output=options.output, workers=options.workers,
                columns=options.columns, keep=options.keep, resume=options.resume,
                overwrite=options.overwrite, errors=options.errors, max_memory=options.max_memory,
                chunk_rows=options.chunk_rows, progress=False if options.no_progress else None,
            )  # fmt: skip
    except KeyboardInterrupt:
        print("rowpool: interrupted; committed rows are kept, --resume continues", file=sys.stderr)
        return 130
    except Exception as error:
        print(f"rowpool: {describe_error(error)}", file=sys.stderr)
        if os.path.isdir(options.output + ".rowpool-resume"):
            print(
                "rowpool: the rows committed so far are kept; --resume continues from there", file=sys.stderr
            )
        return 1
    if summary.failed is not None and len(summary.failed):
        summary.failed.to_csv(options.output + ".failures.csv", index_label="row")
    print(summary_line(summary, time.perf_counter() - started, peak.bytes, peak.processes))
    return 3 if summary.failures else 0
