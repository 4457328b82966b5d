// Releasing the GIL around a blocking engine call, safe in any thread at any time.
//
// When the interpreter finalizes while another thread waits here (a daemon thread, or a thread
// whose join() Ctrl-C interrupted), re-taking the GIL ends that thread with pthread_exit. Its
// forced unwind must not cross a noexcept frame (nb::gil_scoped_release's destructor) nor
// nanobind's dispatcher (which catches everything): either aborts the whole process ("terminate
// called without an active exception"). So the GIL is re-taken here, where that unwind is caught
// and the thread parked for good, as Python 3.14 itself does; the process is exiting around it.
#pragma once

#include <Python.h>

#include <optional>
#include <type_traits>
#include <utility>

namespace rowpool::python {

// PyEval_RestoreThread(state), or never returns when the interpreter is finalizing.
void restore_thread_or_park(PyThreadState* state);

// Runs `call()` with the GIL released and returns what it returns (or rethrows what it throws)
// with the GIL held again. `call` must not touch Python objects.
template <typename Call>
std::invoke_result_t<Call&> without_gil(Call&& call) {
  using Result = std::invoke_result_t<Call&>;
  PyThreadState* state = PyEval_SaveThread();
  if constexpr (std::is_void_v<Result>) {
    try {
      call();
    } catch (...) {
      restore_thread_or_park(state);
      throw;
    }
    restore_thread_or_park(state);
  } else {
    std::optional<Result> result;
    try {
      result.emplace(call());
    } catch (...) {
      restore_thread_or_park(state);
      throw;
    }
    restore_thread_or_park(state);
    return std::move(*result);
  }
}

}  // namespace rowpool::python
