// What a worker runs rows with: the Row and RowBatch types, run_rows and utf8_values. Worker
// process, GIL held (the user's function needs it).
#include <nanobind/ndarray.h>

#include "python/bindings.hpp"
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

}  // namespace

void bind_worker(nb::module_& m) {
  if (!register_row_types(m.ptr())) throw nb::python_error();

  m.def("utf8_values", &utf8_values_binding, "offsets"_a, "valid"_a, "data"_a, "missing"_a.none(),
        "The str values of an Arrow-style string column: data[offsets[i]:offsets[i+1]] decoded "
        "as UTF-8 where valid[i], else `missing`.");

  m.def("run_rows", &run_rows, "func"_a, "batch"_a, "args"_a, "kwargs"_a.none(), "stop_on_error"_a,
        "series_rows"_a, "progress"_a.none() = nb::none(),
        "Calls func(row, *args, **kwargs) for every row of `batch`, storing the rows started so "
        "far in `progress` (8 writable bytes) before each call; returns (kind, payload, "
        "numpy_scalars, failures).");
}

}  // namespace rowpool::python
