"""Issue 17.2: the exception a row raises reaches the parent as a RowError that is also an instance
of the row's own type, when that type lives in the ``__main__`` script, inside the function, on
bases that are themselves local, or cannot be pickled at all (then a class of the same name and
bases stands in), so ``except ValueError:`` catches it in every case."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
import threading

import pandas as pd
import pytest

import rowpool
from rowpool._exception_types import describe_type, restore_type

SCRIPT = """
import json
import threading

import pandas as pd

import rowpool


class MyErr(ValueError):
    pass


class Unpicklable(KeyError):
    pass


def main_class(row):
    if row["a"] == 7:
        raise MyErr("seven")
    return row["a"]


def unpicklable_class(row):
    if row["a"] == 7:
        Unpicklable.lock = threading.Lock()  # the worker's copy of the class cannot be pickled
        raise Unpicklable("seven")
    return row["a"]


def local_bases(row):
    class Base(ArithmeticError):
        pass

    class Child(Base):
        pass

    if row["a"] == 7:
        raise Child("seven")
    return row["a"]


def outcome(func, catch, **options):
    try:
        rowpool.apply(pd.DataFrame({"a": range(50)}), func, workers=2, **options)
    except catch as error:
        return {
            "caught": error.original_type.__name__,
            "row_error": isinstance(error, rowpool.RowError),
            "label": error.label,
            "mro": [cls.__name__ for cls in error.original_type.__mro__],
        }
    except BaseException as error:
        return {"missed": repr(error)}
    return {"missed": "nothing raised"}


if __name__ == "__main__":
    print(json.dumps({
        "as issue 17 ran it": outcome(main_class, ValueError),  # may run in this process
        "except ValueError": outcome(main_class, ValueError, in_process=False),
        "except MyErr": outcome(main_class, MyErr, in_process=False),
        "unpicklable": outcome(unpicklable_class, LookupError, in_process=False),
        "local bases": outcome(local_bases, ArithmeticError, in_process=False),
    }))
"""


def test_classes_of_the_main_script_are_caught_by_their_own_and_builtin_types(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    for case in ("as issue 17 ran it", "except ValueError", "except MyErr"):
        assert outcomes[case]["caught"] == "MyErr", outcomes[case]
        assert outcomes[case]["row_error"] and outcomes[case]["label"] == 7
    assert outcomes["unpicklable"]["caught"] == "Unpicklable", outcomes["unpicklable"]
    assert "KeyError" in outcomes["unpicklable"]["mro"]
    assert outcomes["local bases"]["caught"] == "Child", outcomes["local bases"]
    assert outcomes["local bases"]["mro"][:3] == ["Child", "Base", "ArithmeticError"]


def _raise_local_at_3(row):
    class LocalError(ValueError):
        pass

    if row["a"] == 3:
        raise LocalError("three")
    return row["a"]


def _raise_local_child_at_3(row):
    class Base(LookupError):
        pass

    class Child(Base):
        pass

    if row["a"] == 3:
        raise Child("three")
    return row["a"]


def _raise_unpicklable_local_at_3(row):
    class Locked(TypeError):
        lock = threading.Lock()

    if row["a"] == 3:
        raise Locked("three")
    return row["a"]


@pytest.mark.parametrize(
    "func, builtin, names",
    [
        (_raise_local_at_3, ValueError, ["LocalError"]),
        (_raise_local_child_at_3, LookupError, ["Child", "Base"]),
        (_raise_unpicklable_local_at_3, TypeError, ["Locked"]),
    ],
)
def test_classes_defined_in_the_function_are_caught_as_their_builtin_bases(pool, func, builtin, names):
    with pytest.raises(builtin) as info:
        pool.apply(pd.DataFrame({"a": range(8)}), func)
    error = info.value
    assert isinstance(error, rowpool.RowError)
    assert error.label == 3 and "three" in str(error)
    assert [cls.__name__ for cls in error.original_type.__mro__[: len(names)]] == names
    assert names[0] in error.exc_type
    again = pickle.loads(pickle.dumps(error))  # e.g. sent on by another process pool
    assert isinstance(again, builtin) and isinstance(again, rowpool.RowError)
    assert again.original_type.__name__ == names[0]


class Importable(ValueError):
    pass


def test_a_type_that_does_not_load_is_rebuilt_with_its_name_and_bases():
    pickled, name, qualname, module, bases = describe_type(Importable)
    assert pickle.loads(pickled) is Importable  # by reference when it can
    rebuilt = restore_type((b"not a pickle", name, qualname, module, bases))
    assert rebuilt is not Importable
    assert (rebuilt.__name__, rebuilt.__qualname__, rebuilt.__module__) == (name, qualname, module)
    assert issubclass(rebuilt, ValueError)
    assert restore_type(None) is None
    assert describe_type("not a type") is None
