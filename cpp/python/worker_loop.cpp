#include "python/worker_loop.hpp"

#include <cstdint>
#include <vector>

#include "python/result_builder.hpp"
#include "python/row.hpp"

namespace rowpool::python {
namespace {

// Owns a strong reference; the loop below has many early exits.
struct Ref {
  PyObject* p = nullptr;
  Ref() = default;
  explicit Ref(PyObject* o) : p(o) {}
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
  ~Ref() { Py_XDECREF(p); }
  void reset(PyObject* o) {
    Py_XDECREF(p);
    p = o;
  }
};

// The current exception with its traceback attached (new reference); clears the error indicator.
PyObject* take_exception() {
  PyObject *type, *value, *traceback;
  PyErr_Fetch(&type, &value, &traceback);
  PyErr_NormalizeException(&type, &value, &traceback);
  if (traceback != nullptr && value != nullptr) PyException_SetTraceback(value, traceback);
  Py_XDECREF(type);
  Py_XDECREF(traceback);
  return value;
}

// The progress slot in shared memory (a borrowed writable buffer, released on destruction).
class ProgressSlot {
 public:
  bool open(PyObject* buffer) {
    if (buffer == nullptr || buffer == Py_None) return true;
    if (PyObject_GetBuffer(buffer, &view_, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) != 0) return false;
    held_ = true;
    if (view_.len < static_cast<Py_ssize_t>(sizeof(std::int64_t))) {
      PyErr_SetString(PyExc_ValueError, "the progress buffer needs at least 8 bytes");
      return false;
    }
    slot_ = static_cast<std::int64_t*>(view_.buf);
    return true;
  }
  // Another process reads it only after this one died, so a plain atomic store suffices.
  void rows_started(Py_ssize_t rows) {
    if (slot_ != nullptr)
      __atomic_store_n(slot_, static_cast<std::int64_t>(rows), __ATOMIC_RELAXED);
  }
  ~ProgressSlot() {
    if (held_) PyBuffer_Release(&view_);
  }

 private:
  Py_buffer view_{};
  bool held_ = false;
  std::int64_t* slot_ = nullptr;
};

}  // namespace

PyObject* run_rows(PyObject* func, PyObject* batch, PyObject* args, PyObject* kwargs,
                   bool stop_on_error, bool series_rows, PyObject* progress) {
  if (!is_row_batch(batch)) {
    PyErr_SetString(PyExc_TypeError, "run_rows needs a RowBatch");
    return nullptr;
  }
  if (!PyTuple_Check(args)) {
    PyErr_SetString(PyExc_TypeError, "args must be a tuple");
    return nullptr;
  }
  if (kwargs == Py_None) kwargs = nullptr;
  ProgressSlot slot;
  if (!slot.open(progress)) return nullptr;
  const Py_ssize_t rows = row_batch_length(batch);
  const Py_ssize_t extra = PyTuple_GET_SIZE(args);
  std::vector<PyObject*> call_args(static_cast<std::size_t>(extra) + 1);
  for (Py_ssize_t i = 0; i < extra; ++i)
    call_args[static_cast<std::size_t>(i) + 1] = PyTuple_GET_ITEM(args, i);

  ResultBuilder builder;
  Ref failures(PyList_New(0));
  if (failures.p == nullptr) return nullptr;
  Ref row;
  for (Py_ssize_t pos = 0; pos < rows; ++pos) {
    if (series_rows) {
      row.reset(row_batch_series(batch, pos));
    } else {
      PyObject* recycled = row.p;
      row.p = nullptr;
      row.reset(make_row(batch, pos, recycled));
      Py_XDECREF(recycled);
    }
    if (row.p == nullptr) return nullptr;
    call_args[0] = row.p;
    slot.rows_started(pos + 1);
    Ref result(PyObject_VectorcallDict(func, call_args.data(), static_cast<std::size_t>(extra) + 1,
                                       kwargs));
    if (result.p != nullptr && is_row(result.p)) result.reset(row_to_series(result.p));
    if (result.p == nullptr) {
      Ref failure(Py_BuildValue("(nN)", pos, take_exception()));
      if (failure.p == nullptr || PyList_Append(failures.p, failure.p) != 0) return nullptr;
      builder.append(Py_None);
      if (stop_on_error) break;
      continue;
    }
    builder.append(result.p);
  }
  Ref summary(builder.finish());
  if (summary.p == nullptr) return nullptr;
  return Py_BuildValue("(OOOO)", PyTuple_GET_ITEM(summary.p, 0), PyTuple_GET_ITEM(summary.p, 1),
                       PyTuple_GET_ITEM(summary.p, 2), failures.p);
}

}  // namespace rowpool::python
