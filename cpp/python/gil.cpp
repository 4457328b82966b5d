#include "python/gil.hpp"

#include <unistd.h>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

namespace rowpool::python {

void restore_thread_or_park(PyThreadState* state) {
#if defined(__GLIBCXX__)
  try {
    PyEval_RestoreThread(state);
  } catch (abi::__forced_unwind&) {
    // The interpreter is finalizing and ended this thread. Leaving this handler would resume the
    // unwind into frames that abort on it; the thread holds no GIL here and sleeps until the
    // process exits.
    while (true) ::pause();
  }
#else
  PyEval_RestoreThread(state);
#endif
}

}  // namespace rowpool::python
