"""pandas tests that cannot pass with ``func`` running in rowpool's workers, keyed by
``file::test`` (every parametrization) or ``file::test[params]``, with the reason. Some exist, or
fail, only in one pandas major version."""

import pandas as pd

PANDAS_MAJOR = int(pd.__version__.split(".")[0])

SIDE_EFFECTS = "func's side effects (appending to a list, counting calls) happen in the workers, not here"
MUTATES_CALLER = (
    "func mutates the caller's frame through the row (a view without copy-on-write, pandas 2); "
    "in a worker the row is a copy of shared memory"
)
NOT_A_SERIES = (
    "func needs the row to be a pandas.Series (type(row), an unbound Series method); rowpool's "
    "default row is a Row (row_type='series' passes a real Series)"
)

EXPECTED_FAILURES: dict[str, str] = {
    "test_frame_apply.py::test_apply_function_runs_once": SIDE_EFFECTS,
    "test_frame_apply.py::test_apply_raw_function_runs_once[python]": SIDE_EFFECTS,
    "test_frame_apply.py::test_apply_type": NOT_A_SERIES,
    "test_apply.py::test_apply_func_that_appends_group_to_list_without_copy": SIDE_EFFECTS,
    "test_apply.py::test_group_apply_once_per_group": SIDE_EFFECTS,
    "test_apply.py::test_group_apply_once_per_group2": "func prints in the workers; the test reads "
    "the calling process' stdout",
    "test_apply.py::test_groupby_apply_store_copy": SIDE_EFFECTS,
}
if PANDAS_MAJOR >= 3:
    EXPECTED_FAILURES |= {
        "test_series_apply.py::test_map_apply_masked_element_types": SIDE_EFFECTS,
        "test_map.py::test_map_datetime_series_passes_scalar_timestamps": SIDE_EFFECTS,
        # pandas 3's Series.describe calls super(): the row must be a real Series
        "test_frame_apply.py::test_apply_differently_indexed": NOT_A_SERIES,
    }
else:
    EXPECTED_FAILURES["test_frame_apply.py::test_apply_mutating"] = MUTATES_CALLER
