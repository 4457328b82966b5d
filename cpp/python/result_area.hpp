// The result area of one task, in the shared arena: a worker writes each row's result there the
// moment the row finishes, so the results of finished rows outlive the worker. When a worker dies
// the parent keeps them and re-runs only the row that was running and the rows after it: the
// function runs exactly once for every row that did not kill its worker.
//
// Layout (offsets from the area's start, which is 64-byte aligned; n = rows of the task):
//   [0, 8)                    int64 log_bytes: bytes of the log committed so far
//   [64, 64 + 8n)             one 8-byte slot per row: the float64 / int64 / bool bits of a scalar
//   [64 + 8n, 64 + 9n)        one RowTag per row; kPending (0) until the row finished. The parent
//                             zeroes the tags (and log_bytes) before it hands out the task.
//   [align64(64 + 9n), end)   the log: entries [u32 position][u32 tag][u64 length][bytes, padded to
//                             8] for str (UTF-8), object (pickle) and failure (pickled description)
// A row's tag is stored last (release), after its slot or its committed log entry, so a row with a
// tag is complete. An entry that does not fit sends the log's committed entries to `spill` (the
// worker sends them to the parent on its queue, where they arrive before its death is seen) and the
// log starts over; an entry larger than the whole log is spilled alone.
//
// ResultWriter lives in a worker process and holds Python references (GIL held); it holds the
// area's buffer for its lifetime. parse_log is the parent's reader of a log (the area's or a
// spilled one).
#pragma once

#include <nanobind/nanobind.h>

#include <cstddef>
#include <cstdint>

namespace rowpool::python {

// The single definition, exported to Python as rowpool._core.RowTag (an IntEnum).
enum class RowTag : std::uint8_t {
  kPending = 0,
  kFloat = 1,  // a Python float: slot holds float64 bits
  kInt = 2,    // a Python int within int64: slot holds it
  kBool = 3,   // a Python bool: slot holds 0 or 1
  kNumpyFloat = 4,
  kNumpyInt = 5,
  kNumpyBool = 6,
  kNone = 7,
  kStr = 8,     // log entry: UTF-8 bytes
  kObject = 9,  // log entry: the pickle made by `encode`
  kFailed = 10  // log entry: the pickled description made by `describe`
};

inline constexpr std::size_t kAreaHeaderBytes = 64;
inline constexpr std::size_t kLogEntryHeaderBytes = 16;

class ResultWriter {
 public:
  // `area`: a writable buffer over the task's result area; `rows`: n. `encode(value) -> bytes`
  // pickles a result (raising makes the row a failure); `describe(exception) -> bytes` pickles a
  // failure's description (never raises); `spill(bytes)` hands over a full log. Throws
  // nb::python_error / nb::value_error when `area` is not writable or too small for `rows`.
  ResultWriter(nanobind::handle area, Py_ssize_t rows, nanobind::object encode,
               nanobind::object describe, nanobind::object spill);
  ResultWriter(const ResultWriter&) = delete;
  ResultWriter& operator=(const ResultWriter&) = delete;
  ~ResultWriter();

  // Records `value` as the result of row `pos`: true when stored, false when it became the row's
  // failure (it cannot be pickled). Throws nb::python_error when spilling fails.
  bool put(Py_ssize_t pos, nanobind::handle value);
  // Records `exception` as the failure of row `pos`.
  void fail(Py_ssize_t pos, nanobind::handle exception);
  // fail() with the current Python exception (which it clears).
  void fail_with_current(Py_ssize_t pos);
  Py_ssize_t rows() const noexcept { return rows_; }

 private:
  void finish_scalar(Py_ssize_t pos, RowTag tag, std::uint64_t bits);
  // Appends a log entry, then stores the row's tag.
  void append(Py_ssize_t pos, RowTag tag, const char* data, std::size_t length);
  void append_bytes(Py_ssize_t pos, RowTag tag, nanobind::handle bytes);

  Py_buffer view_{};
  Py_ssize_t rows_ = 0;
  std::int64_t* log_bytes_ = nullptr;
  char* slots_ = nullptr;
  std::uint8_t* tags_ = nullptr;
  char* log_ = nullptr;
  std::size_t log_capacity_ = 0;
  nanobind::object encode_;
  nanobind::object describe_;
  nanobind::object spill_;
};

// Reads a log (a bytes-like object): puts each str result into `strings` (position -> str) and
// returns the other entries as a list of (position, tag, bytes).
nanobind::list parse_log(nanobind::handle log, nanobind::dict strings);

}  // namespace rowpool::python
