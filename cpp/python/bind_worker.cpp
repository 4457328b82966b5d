// What a worker runs rows with: the Row and RowBatch types, ResultWriter, run_rows, utf8_values
// and cell_values (worker process, GIL held: the user's function needs it); and parse_log, the
// parent's reader of the results.
#include <nanobind/ndarray.h>

#include "python/bindings.hpp"
#include "python/cell_column.hpp"
#include "python/result_area.hpp"
#include "python/row.hpp"
#include "python/utf8_column.hpp"
#include "python/worker_loop.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace rowpool::python {
namespace {

using ConstInt64s = nb::ndarray<const std::int64_t, nb::ndim<1>, nb::c_contig>;
using ConstBytes = nb::ndarray<const std::uint8_t, nb::ndim<1>, nb::c_contig>;

nb::list utf8_values_binding(ConstInt64s offsets, ConstBytes valid, ConstBytes data,
                             nb::handle missing) {
  const std::size_t rows = valid.shape(0);
  if (offsets.shape(0) != rows + 1) throw nb::value_error("need one more offset than rows");
  return utf8_values(offsets.data(), valid.data(), reinterpret_cast<const char*>(data.data()),
                     data.shape(0), rows, missing);
}

nb::list cell_values_binding(ConstBytes buffer, std::size_t rows, char kind, std::size_t itemsize,
                             bool masked, nb::handle missing, nb::handle table) {
  const CellBuffer cells(buffer.data(), buffer.shape(0), rows, static_cast<CellKind>(kind),
                         itemsize, masked);
  return cell_values(cells, missing, table);
}

}  // namespace

void bind_worker(nb::module_& m) {
  if (!register_row_types(m.ptr())) throw nb::python_error();

  m.def("utf8_values", &utf8_values_binding, "offsets"_a, "valid"_a, "data"_a, "missing"_a.none(),
        "The str values of an Arrow-style string column: data[offsets[i]:offsets[i+1]] decoded "
        "as UTF-8 where valid[i], else `missing`.");

  m.def("cell_values", &cell_values_binding, "buffer"_a, "rows"_a, "kind"_a, "itemsize"_a,
        "masked"_a, "missing"_a.none(), "table"_a.none(),
        "The values of a column of fixed-width cells (`rows` values of numpy kind `kind` and "
        "`itemsize` bytes, then when `masked` one byte per row, non-zero where missing) as Python "
        "scalars, `missing` where missing; with a `table`, codes c become table[c + 1].");

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
