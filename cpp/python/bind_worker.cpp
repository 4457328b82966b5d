// What a worker runs rows with: the Row and RowBatch types, ScalarColumn, ResultWriter and run_rows
// (worker process, GIL held: the user's function needs it); and parse_log, the parent's reader of
// the results.
#include <nanobind/ndarray.h>

#include "python/bindings.hpp"
#include "python/result_area.hpp"
#include "python/row.hpp"
#include "python/scalar_column.hpp"
#include "python/worker_loop.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace rowpool::python {

void bind_worker(nb::module_& m) {
  if (!register_row_types(m.ptr())) throw nb::python_error();

  nb::class_<ScalarColumn>(
      m, "ScalarColumn",
      "One column of a chunk whose rows' values are boxed as Python scalars when a row reads them "
      "(layout: cpp/python/scalar_column.hpp).")
      .def_static("cells", &ScalarColumn::cells, "buffer"_a, "rows"_a, "kind"_a, "itemsize"_a,
                  "masked"_a, "missing"_a.none(), "table"_a.none(),
                  "float_type"_a.none() = nb::none(),
                  "`rows` values of numpy kind `kind` and `itemsize` bytes, then when `masked` one "
                  "byte per row, non-zero where missing (boxed as `missing`); with a `table`, "
                  "codes c stand for table[c + 1]; with a `float_type` (numpy.float64), 8-byte "
                  "floats are boxed as that type.")
      .def_static("utf8", &ScalarColumn::utf8, "offsets"_a, "valid"_a, "data"_a, "missing"_a.none(),
                  "data[offsets[i]:offsets[i+1]] decoded as UTF-8 where valid[i], else `missing`.")
      .def("__len__", &ScalarColumn::rows)
      .def("values", &ScalarColumn::values, "Every row's value, in a new list.");

  nb::class_<ResultWriter>(m, "ResultWriter",
                           "Writes each row's result into a task's result area as the row "
                           "finishes (layout: cpp/python/result_area.hpp).")
      .def(nb::init<nb::handle, Py_ssize_t, nb::object, nb::object, nb::object>(), "area"_a,
           "rows"_a, "encode"_a, "describe"_a, "spill"_a)
      .def(
          "put",
          [](ResultWriter& self, Py_ssize_t pos, nb::handle value) {
            if (pos < 0 || pos >= self.rows()) throw nb::index_error("row position out of range");
            return self.put(pos, value);
          },
          "pos"_a, "value"_a.none(),
          "Records the result of row `pos`; False when it cannot be pickled (recorded as the "
          "row's failure instead).")
      .def(
          "fail",
          [](ResultWriter& self, Py_ssize_t pos, nb::handle exception) {
            if (pos < 0 || pos >= self.rows()) throw nb::index_error("row position out of range");
            self.fail(pos, exception);
          },
          "pos"_a, "exception"_a, "Records `exception` as the failure of row `pos`.");

  m.def("parse_log", &parse_log, "log"_a, "strings"_a,
        "Reads a result log: puts str results into `strings` (position -> str) and returns the "
        "other entries as a list of (position, tag, bytes).");

  m.def("run_rows", &run_rows, "func"_a, "batch"_a, "args"_a, "kwargs"_a.none(), "stop_on_error"_a,
        "series_rows"_a, "progress"_a.none(), "results"_a,
        "Calls func(row, *args, **kwargs) for every row of `batch`, storing the rows started so "
        "far in `progress` (8 writable bytes) before each row and each result (or failure) in "
        "`results` (a ResultWriter) as soon as the row finishes.");
}

}  // namespace rowpool::python
