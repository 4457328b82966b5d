#include "python/worker_loop.hpp"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "python/row.hpp"

namespace nb = nanobind;

namespace rowpool::python {
namespace {

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

// Forks of this process so far, counted in each child as it starts (pthread_atfork runs for
// os.fork). The row loop compares it after each call instead of calling getpid(), a system call
// that would cost as much as the rest of a cheap row.
std::atomic<std::uint64_t> forks_seen{0};

std::uint64_t fork_generation() {
  static const int registered =
      pthread_atfork(nullptr, nullptr, [] { forks_seen.fetch_add(1, std::memory_order_relaxed); });
  (void)registered;
  return forks_seen.load(std::memory_order_relaxed);
}

}  // namespace

void run_rows(nb::handle func, nb::handle batch, nb::tuple args, nb::handle kwargs,
              bool stop_on_error, bool series_rows, nb::handle progress, ResultWriter& results) {
  if (!is_row_batch(batch.ptr())) throw nb::type_error("run_rows needs a RowBatch");
  PyObject* keywords = kwargs.is_none() ? nullptr : kwargs.ptr();
  ProgressSlot slot(progress);
  const Py_ssize_t rows = row_batch_length(batch.ptr());
  if (rows > results.rows()) throw nb::value_error("the result area has fewer rows than the batch");
  const std::size_t extra = args.size();
  std::vector<PyObject*> call_args(extra + 1);  // borrowed from `args`, which outlives the loop
  for (std::size_t i = 0; i < extra; ++i)
    call_args[i + 1] = PyTuple_GET_ITEM(args.ptr(), static_cast<Py_ssize_t>(i));

  const std::uint64_t generation = fork_generation();
  nb::object row;
  bool rows_kept = false;  // the function kept a reference to a row (stashed it somewhere)
  for (Py_ssize_t pos = 0; pos < rows; ++pos) {
    slot.rows_started(pos + 1);  // before the row is built: a death while building it names it
    if (series_rows) {
      row = nb::steal(row_batch_series(batch.ptr(), pos));
    } else {
      nb::object previous = std::move(row);  // reused when the function kept no reference to it
      row = nb::steal(make_row(batch.ptr(), pos, previous.ptr()));
    }
    if (!row.is_valid()) throw nb::python_error();
    call_args[0] = row.ptr();
    nb::object result =
        nb::steal(PyObject_VectorcallDict(func.ptr(), call_args.data(), extra + 1, keywords));
    // The function forked and this is the child returning from it. The rows, the progress slot
    // and the queue are the worker's: the child ends here, without the worker's exit handlers.
    if (forks_seen.load(std::memory_order_relaxed) != generation) ::_exit(0);
    if (result.is_valid() && is_row(result.ptr())) result = nb::steal(row_to_series(result.ptr()));
    const bool stored = result.is_valid() ? results.put(pos, result) : false;
    if (!result.is_valid()) results.fail_with_current(pos);
    rows_kept = rows_kept || (!series_rows && Py_REFCNT(row.ptr()) > 1);
    if (!stored && stop_on_error) break;
  }
  // A kept row may be read after the task's arena block holds the next chunk.
  if (rows_kept && !detach_row_batch(batch.ptr())) throw nb::python_error();
}

}  // namespace rowpool::python
