"""Progress reporting: a tqdm bar (rows, rows/s, ETA) on a terminal or in a notebook, else nothing."""

from __future__ import annotations

import sys


def _interactive() -> bool:
    if "ipykernel" in sys.modules:
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def make_progress(progress, total: int | None, description: str = "rowpool"):
    """A tqdm bar when ``progress`` is True, or None and the session is interactive; else None."""
    if progress is False or (progress is None and not _interactive()):
        return None
    from tqdm.auto import tqdm  # imported here: `import rowpool` stays fast

    return tqdm(total=total, unit="rows", desc=description, smoothing=0.1)
