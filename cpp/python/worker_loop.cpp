#include "python/worker_loop.hpp"

#include <unistd.h>

#include <cstdint>
#include <vector>

#include "python/result_builder.hpp"
#include "python/row.hpp"

namespace nb = nanobind;

namespace rowpool::python {
namespace {

// The current exception with its traceback attached; clears the error indicator.
nb::object take_exception() {
  PyObject *type, *value, *traceback;
  PyErr_Fetch(&type, &value, &traceback);
  PyErr_NormalizeException(&type, &value, &traceback);
  nb::object owned_type = nb::steal(type), exception = nb::steal(value);
  nb::object owned_traceback = nb::steal(traceback);
  if (traceback != nullptr && value != nullptr) PyException_SetTraceback(value, traceback);
  return exception;
}

// The progress slot in shared memory: a writable buffer held for the loop's lifetime.
class ProgressSlot {
 public:
  explicit ProgressSlot(nb::handle buffer) {
    if (buffer.is_none()) return;
    if (PyObject_GetBuffer(buffer.ptr(), &view_, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) != 0)
      throw nb::python_error();
    if (view_.len < static_cast<Py_ssize_t>(sizeof(std::int64_t))) {
      PyBuffer_Release(&view_);  // a constructor that throws runs no destructor
      throw nb::value_error("the progress buffer needs at least 8 bytes");
    }
    held_ = true;
    slot_ = static_cast<std::int64_t*>(view_.buf);
  }
  ProgressSlot(const ProgressSlot&) = delete;
  ProgressSlot& operator=(const ProgressSlot&) = delete;
  ~ProgressSlot() {
    if (held_) PyBuffer_Release(&view_);
  }

  // Another process reads it only after this one died, so a plain atomic store suffices.
  void rows_started(Py_ssize_t rows) {
    if (slot_ != nullptr)
      __atomic_store_n(slot_, static_cast<std::int64_t>(rows), __ATOMIC_RELAXED);
  }

 private:
  Py_buffer view_{};
  bool held_ = false;
  std::int64_t* slot_ = nullptr;
};

}  // namespace

nb::tuple run_rows(nb::handle func, nb::handle batch, nb::tuple args, nb::handle kwargs,
                   bool stop_on_error, bool series_rows, nb::handle progress) {
  if (!is_row_batch(batch.ptr())) throw nb::type_error("run_rows needs a RowBatch");
  PyObject* keywords = kwargs.is_none() ? nullptr : kwargs.ptr();
  ProgressSlot slot(progress);
  const Py_ssize_t rows = row_batch_length(batch.ptr());
  const std::size_t extra = args.size();
  std::vector<PyObject*> call_args(extra + 1);  // borrowed from `args`, which outlives the loop
  for (std::size_t i = 0; i < extra; ++i)
    call_args[i + 1] = PyTuple_GET_ITEM(args.ptr(), static_cast<Py_ssize_t>(i));

  const pid_t worker = ::getpid();
  ResultBuilder builder;
  nb::list failures;
  nb::object row;
  for (Py_ssize_t pos = 0; pos < rows; ++pos) {
    if (series_rows) {
      row = nb::steal(row_batch_series(batch.ptr(), pos));
    } else {
      nb::object previous = std::move(row);  // reused when the function kept no reference to it
      row = nb::steal(make_row(batch.ptr(), pos, previous.ptr()));
    }
    if (!row.is_valid()) throw nb::python_error();
    call_args[0] = row.ptr();
    slot.rows_started(pos + 1);
    nb::object result =
        nb::steal(PyObject_VectorcallDict(func.ptr(), call_args.data(), extra + 1, keywords));
    // The function forked and this is the child returning from it. The rows, the progress slot
    // and the queue are the worker's: the child ends here, without the worker's exit handlers.
    if (::getpid() != worker) ::_exit(0);
    if (result.is_valid() && is_row(result.ptr())) result = nb::steal(row_to_series(result.ptr()));
    if (!result.is_valid()) {
      failures.append(nb::make_tuple(pos, take_exception()));
      builder.append(Py_None);
      if (stop_on_error) break;
      continue;
    }
    builder.append(result.ptr());
  }
  nb::tuple summary = nb::steal<nb::tuple>(builder.finish());  // (kind, payload, numpy_scalars)
  if (!summary.is_valid()) throw nb::python_error();
  return nb::make_tuple(summary[0], summary[1], summary[2], failures);
}

}  // namespace rowpool::python
