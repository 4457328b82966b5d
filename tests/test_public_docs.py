"""Every public name has a docstring, and the installed package is typed: ``py.typed`` and the
``_core.pyi`` stubs that nanobind's stubgen generates at build time sit next to the extension."""

from __future__ import annotations

import inspect
from pathlib import Path

import pandas as pd
import rowpool._core as core

import rowpool
import rowpool.files as files


def _undocumented(obj, name: str) -> list[str]:
    """``name`` and its public methods and properties (for a class) without a docstring."""
    missing = [] if inspect.getdoc(obj) else [name]
    if inspect.isclass(obj):
        for attribute, value in vars(obj).items():
            if attribute.startswith("_"):
                continue
            if callable(value) or isinstance(value, (property, staticmethod, classmethod)):
                if not inspect.getdoc(getattr(obj, attribute)):
                    missing.append(f"{name}.{attribute}")
    return missing


def test_every_public_name_has_a_docstring():
    public = [(getattr(rowpool, n), f"rowpool.{n}") for n in rowpool.__all__]
    public += [(getattr(files, n), f"rowpool.files.{n}") for n in files.__all__]
    public += [(getattr(core, n), f"rowpool._core.{n}") for n in dir(core) if not n.startswith("_")]
    public += [
        (type(pd.DataFrame({"a": [1]}).rowpool), "DataFrame.rowpool"),
        (type(pd.Series([1]).rowpool), "Series.rowpool"),
    ]
    missing = [m for obj, name in public for m in _undocumented(obj, name)]
    assert not missing, f"no docstring: {missing}"


def test_installed_package_is_typed():
    package = Path(rowpool.__file__).parent
    assert (package / "py.typed").exists()
    stubs = (package / "_core.pyi").read_text()
    for name in ("class Scheduler", "class MessageQueue", "def run_rows"):
        assert name in stubs, f"{name} missing from the generated _core.pyi"
