// The constants the parent and its workers agree on, defined once in C++ and exported.
#include "core/worker_fds.hpp"
#include "python/bindings.hpp"
#include "python/result_area.hpp"

namespace nb = nanobind;

namespace rowpool::python {

void bind_protocol(nb::module_& m) {
  nb::enum_<RowTag>(m, "RowTag", nb::is_arithmetic(),
                    "What a row's result is, in its task's result area (result_area.hpp).")
      .value("PENDING", RowTag::kPending, "Not finished.")
      .value("FLOAT", RowTag::kFloat, "A float; its slot holds the float64.")
      .value("INT", RowTag::kInt, "An int within int64; its slot holds it.")
      .value("BOOL", RowTag::kBool, "A bool; its slot holds 0 or 1.")
      .value("NUMPY_FLOAT", RowTag::kNumpyFloat, "A numpy.float64; its slot holds it.")
      .value("NUMPY_INT", RowTag::kNumpyInt, "A numpy.int64; its slot holds it.")
      .value("NUMPY_BOOL", RowTag::kNumpyBool, "A numpy.bool_; its slot holds 0 or 1.")
      .value("NONE", RowTag::kNone, "None.")
      .value("STR", RowTag::kStr, "A str; a log entry holds its UTF-8.")
      .value("OBJECT", RowTag::kObject, "Anything else; a log entry holds its pickle.")
      .value("FAILED", RowTag::kFailed, "The row failed; a log entry holds its description.");
  m.attr("RESULT_AREA_HEADER_BYTES") = kAreaHeaderBytes;
  m.attr("SEGMENT_FD") = kSegmentFd;
}

}  // namespace rowpool::python
