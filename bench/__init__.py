"""rowpool's benchmark suite: rowpool against its peers, each run in a fresh subprocess.

Entry point: ``python bench/run.py --help``. Modules:

- ``scenarios``: input tables, row functions and sizes (importable by every engine's interpreter);
- ``engines``: how each peer (and rowpool) runs a job;
- ``child``: the program that one run executes in its own process;
- ``measure``: the process-tree sampler (PSS, /dev/shm, RSS, CPU) and the memory guard;
- ``report``: BENCHMARKS.md tables, DESIGN.md §4 bars and the plots;
- ``run``: the command line that ties them together.

Only ``scenarios``, ``engines`` and ``child`` run inside the measured processes; they need nothing
beyond pandas and numpy (plus the engine's own package), so they work under pandas 2 and 3 alike.
"""
