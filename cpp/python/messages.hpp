// Helpers shared by the Supervisor and MessageQueue bindings: message headers as Python tuples,
// and blocking waits that release the GIL (through gil.hpp) yet still see Ctrl-C. Called with the
// GIL held.
#pragma once

#include <Python.h>
#include <nanobind/nanobind.h>

#include <algorithm>
#include <cstdint>

#include "core/queue.hpp"
#include "python/gil.hpp"

namespace rowpool::python {

inline nanobind::tuple header_tuple(const MessageHeader& h) {
  return nanobind::make_tuple(h.kind, h.flags, h.tag, h.arg0, h.arg1, h.payload_bytes);
}

inline MessageHeader make_header(std::uint32_t kind, std::uint32_t flags, std::uint64_t tag,
                                 std::uint64_t arg0, std::uint64_t arg1) {
  MessageHeader h;
  h.kind = kind;
  h.flags = flags;
  h.tag = tag;
  h.arg0 = arg0;
  h.arg1 = arg1;
  return h;
}

// Waits on a blocking call in slices so that Ctrl-C (a pending Python signal) is seen within a
// slice even when the signal was delivered to another thread. Each slice sleeps in poll() with the
// GIL released; `attempt(slice_ms)` returns something false on timeout.
inline constexpr int kSignalCheckMs = 100;

template <typename Attempt>
auto wait_interruptible(int timeout_ms, Attempt attempt) {
  int waited = 0;
  while (true) {
    const int slice =
        timeout_ms < 0 ? kSignalCheckMs : std::min(kSignalCheckMs, timeout_ms - waited);
    auto outcome = without_gil([&] { return attempt(slice); });
    if (outcome) return outcome;
    if (PyErr_CheckSignals() != 0) throw nanobind::python_error();
    waited += slice;
    if (timeout_ms >= 0 && waited >= timeout_ms) return outcome;
  }
}

// A new bytes object of `bytes` bytes filled by `read(data, bytes)` with the GIL released.
template <typename Read>
nanobind::bytes read_payload(std::size_t bytes, Read read) {
  nanobind::bytes result = nanobind::steal<nanobind::bytes>(
      PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(bytes)));
  if (!result.is_valid()) throw nanobind::python_error();
  char* data = PyBytes_AS_STRING(result.ptr());
  without_gil([&] { read(data, bytes); });  // nobody else can see `result` yet
  return result;
}

}  // namespace rowpool::python
