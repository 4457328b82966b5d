"""Deferred imports in the worker: pandas runs its import when a row first uses it, if ever.

A row function usually lives in a module that begins with ``import pandas as pd``. rowpool's rows
do not need pandas, yet unpickling the function imports that module, and pandas' import costs each
worker ~0.25 s of CPU and ~50 MB before the first row. While a job's function is unpickled,
DeferringFinder lets ``import pandas`` bind a lazy module (``importlib.util.LazyLoader``): its first
attribute access runs the real import, in place, so every name bound to it sees the real module.
A job with a per-row ``timeout`` does not defer: its rows must not pay for an import.

LazyLoader has one trap, handled here. ``import pandas.api.types`` while pandas is still lazy makes
the import system read ``pandas.__path__``, which runs pandas' ``__init__`` (importing the submodule)
-- and then the import system would execute that submodule a second time, replacing the module
object. The finder answers that second lookup with the module already loaded.

Owned by the worker process; used by its one main thread only.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Iterable

DEFERRED_PACKAGES = ("pandas",)


class _AlreadyLoaded:
    """Loader that "loads" a module that is already in sys.modules, leaving it as it was."""

    def __init__(self, module: types.ModuleType):
        self.module = module
        self.spec = module.__spec__

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        module.__spec__ = self.spec  # the import system set it to the spec of this lookup


class DeferringFinder:
    """Meta path finder: while ``active``, top-level imports of ``packages`` are deferred.

    It stays on ``sys.meta_path`` after the unpickling, to guard submodule imports of packages
    that are still lazy (see the module docstring)."""

    def __init__(self, packages: Iterable[str] = DEFERRED_PACKAGES):
        self.packages = frozenset(packages)
        self.active = False
        self.deferred: list[str] = []

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        if top not in self.packages:
            return None
        if fullname != top:
            # Asked to find a submodule that is already imported: only a lazy parent's __path__
            # read can cause that (importlib.reload passes the module as target).
            loaded = sys.modules.get(fullname)
            if loaded is None or target is not None:
                return None
            return importlib.util.spec_from_loader(fullname, _AlreadyLoaded(loaded))  # type: ignore[arg-type]
        if not self.active:
            return None
        spec = self._find_elsewhere(fullname, path, target)
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = importlib.util.LazyLoader(spec.loader)
        self.deferred.append(fullname)
        return spec

    def _find_elsewhere(self, fullname, path, target):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def load_deferred(self) -> None:
        """Runs every deferred import now (reading an attribute of a lazy module loads it)."""
        for name in self.deferred:
            module = sys.modules.get(name)
            if module is not None:
                module.__name__  # noqa: B018 - the read runs the import
        self.deferred.clear()

    def install(self) -> DeferringFinder:
        """Puts the finder first on ``sys.meta_path``; returns it."""
        sys.meta_path.insert(0, self)
        return self
