"""Progress bars: tqdm.auto, on a terminal or in a notebook by default, off otherwise unless
``progress=True``."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

import rowpool
from rowpool import progress

pytestmark = pytest.mark.timeout(60)

DF = pd.DataFrame({"a": range(7)})


class Terminal:
    """A stand-in stderr that is (or is not) a terminal and keeps what is written."""

    def __init__(self, tty: bool):
        self.tty, self.text = tty, ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize(
    ("tty", "option", "shown"),
    [(False, None, False), (False, True, True), (True, None, True), (True, False, False)],
)
def test_bar_on_a_terminal_or_when_asked(pool, monkeypatch, tty, option, shown):
    stderr = Terminal(tty)
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    rowpool.apply(DF, lambda r: r["a"], pool=pool, progress=option)
    assert ("7/7" in stderr.text) is shown


def test_bar_comes_from_tqdm_auto(monkeypatch):
    import tqdm.auto

    made = []
    monkeypatch.setattr(tqdm.auto, "tqdm", lambda **kwargs: made.append(kwargs) or None)
    progress.make_progress(True, 5)
    assert made and made[0]["total"] == 5
