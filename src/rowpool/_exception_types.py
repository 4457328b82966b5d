"""How the type of a row's exception travels from a worker to the parent, which raises a RowError
that is also an instance of that type (``except ValueError:`` and ``except MyErr:`` keep working).

A type travels as a description: the type pickled by reference when its module imports, else by
value with cloudpickle (a class of the ``__main__`` script, or one defined inside the function:
cloudpickle gives the parent back its very own class when the class came from the parent), plus
its name, module and the descriptions of its bases. When the pickled type does not load in the
parent (its module does not import there, or it was not picklable at all), the parent rebuilds a
class of the same name on the restored bases, so it is still an instance of every builtin base.
"""

from __future__ import annotations

import functools
import pickle


def describe_type(kind: type) -> tuple | None:
    """(pickled type or None, name, qualified name, module, descriptions of the bases) of
    ``kind``; None if ``kind`` is not a class. Never raises."""
    if not isinstance(kind, type):
        return None
    try:
        return _described(kind)  # rows failing by the thousand share their type
    except TypeError:  # unhashable (a metaclass without __hash__)
        return _describe(kind)


@functools.lru_cache(maxsize=64)
def _described(kind: type) -> tuple:
    return _describe(kind)


def _describe(kind: type) -> tuple:
    try:
        name, qualname, module = str(kind.__name__), str(kind.__qualname__), str(kind.__module__)
        bases = tuple(describe_type(base) for base in kind.__bases__ if base is not object)
    except Exception:  # noqa: BLE001 - a class with strange attributes still travels, nameless
        name = qualname = module = "?"
        bases = ()
    return (_pickled(kind), name, qualname, module, bases)


def _pickled(kind: type) -> bytes | None:
    try:
        return pickle.dumps(kind)  # by reference: the class its module defines
    except Exception:  # noqa: BLE001 - defined in __main__ or in a function: pickled by value
        pass
    try:
        import cloudpickle

        return cloudpickle.dumps(kind)
    except Exception:  # noqa: BLE001 - e.g. an unpicklable class attribute: rebuilt from its bases
        return None


def restore_type(description: tuple | None) -> type | None:
    """The type ``describe_type`` described: the pickled type if it loads here, else a class of
    the same name and module on the restored bases (None for no description). Never raises."""
    if description is None:
        return None
    pickled, name, qualname, module, bases = description
    if pickled is not None:
        try:
            kind = pickle.loads(pickled)
        except Exception:  # noqa: BLE001 - e.g. its module does not import in this process
            kind = None
        if isinstance(kind, type):
            return kind
    restored = tuple(base for base in map(restore_type, bases) if base is not None)
    try:
        return _rebuilt(name, qualname, module, restored or (Exception,))
    except Exception:  # noqa: BLE001 - bases that cannot be combined: the closest one stands in
        return restored[0] if restored else None


def _rebuilt(name: str, qualname: str, module: str, bases: tuple) -> type:
    rebuilt = type(name, bases, {"__module__": module, "__qualname__": qualname})
    rebuilt.__doc__ = f"Stand-in for {module}.{qualname}, which could not be loaded in this process."
    return rebuilt
