// The constants the parent and its workers agree on, defined once in C++ and exported.
#include "core/worker_fds.hpp"
#include "python/bindings.hpp"
#include "python/result_kind.hpp"

namespace nb = nanobind;

namespace rowpool::python {

void bind_protocol(nb::module_& m) {
  nb::enum_<ResultKind>(m, "ResultKind", nb::is_arithmetic(),
                        "How a chunk's results travel from a worker to the parent.")
      .value("EMPTY", ResultKind::kEmpty, "No values yet (or only None).")
      .value("FLOAT", ResultKind::kFloat, "float64 buffer.")
      .value("INT", ResultKind::kInt, "int64 buffer.")
      .value("BOOL", ResultKind::kBool, "bool buffer (one byte a value).")
      .value("STR", ResultKind::kStr, "A list of str.")
      .value("OBJECT", ResultKind::kObject, "A list of arbitrary objects.");
  m.attr("SEGMENT_FD") = kSegmentFd;
}

}  // namespace rowpool::python
