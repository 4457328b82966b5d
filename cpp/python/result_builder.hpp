// ResultBuilder: collects the results of one chunk and classifies them as they arrive, so that a
// chunk of floats travels as one float64 buffer instead of pickled scalars. The classes are chosen
// so that the parent can rebuild exactly what pandas infers from the same list of values.
// Worker-process object; holds references, so the GIL must be held.
#pragma once

#include <Python.h>

#include <cstdint>
#include <vector>

#include "python/result_kind.hpp"

namespace rowpool::python {

class ResultBuilder {
 public:
  ResultBuilder() = default;
  ResultBuilder(const ResultBuilder&) = delete;
  ResultBuilder& operator=(const ResultBuilder&) = delete;
  ~ResultBuilder();

  // Takes a new reference to `value`.
  void append(PyObject* value);
  std::size_t size() const noexcept { return values_.size(); }

  // (kind, payload, numpy_scalars): payload is bytes of float64/int64/bool for those kinds, else a
  // list of the values; numpy_scalars tells whether typed values were numpy scalars (all of them)
  // rather than Python ones. Returns a new reference or null with an error.
  PyObject* finish();

 private:
  ResultKind classify(PyObject* value) const;
  PyObject* pack_numeric();

  std::vector<PyObject*> values_;  // owned references
  ResultKind kind_ = ResultKind::kEmpty;
  bool numpy_scalars_ = false;
};

}  // namespace rowpool::python
