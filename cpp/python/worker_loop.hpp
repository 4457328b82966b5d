// The per-row loop of a worker: builds each row, calls the user's function, and writes its result
// into the task's result area (ResultWriter) at once. The only per-row work is the call itself plus
// a type check and a typed store of its result.
// Runs in a worker process with the GIL held (the user's function needs it); every reference it
// takes is owned by an nb::object and released on every exit.
#pragma once

#include <nanobind/nanobind.h>

#include "python/result_area.hpp"

namespace rowpool::python {

// Calls `func(row, *args, **kwargs)` for every row of `batch` (a RowBatch); with `series_rows` the
// row is a genuine pandas Series. Each result, or the exception raised for a row, goes to
// `results` as the row finishes; with `stop_on_error` the loop ends at the first failure. Raises
// nb::python_error when a row cannot be built or memory runs out. `progress` (a writable buffer of
// at least 8 bytes, or None) receives, before each row is built, the number of rows started so far
// as an int64: if the process dies, the parent reads which row was running. A process forked by
// `func` that returns from it exits at once (status 0): only the worker runs rows.
void run_rows(nanobind::handle func, nanobind::handle batch, nanobind::tuple args,
              nanobind::handle kwargs, bool stop_on_error, bool series_rows,
              nanobind::handle progress, ResultWriter& results);

}  // namespace rowpool::python
