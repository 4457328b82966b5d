// rowpool._core: the nanobind module. Engine classes (segment, arena, queue, supervisor, scheduler)
// are bound as they are; every blocking call releases the GIL. The row, result builder and worker
// loop live in their own files. Ownership: Python objects own the C++ objects they wrap.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <functional>

#include "core/arena.hpp"
#include "core/errors.hpp"
#include "core/queue.hpp"
#include "core/scheduler.hpp"
#include "core/segment.hpp"
#include "core/supervisor.hpp"
#include "core/worker_fds.hpp"
#include "python/errors.hpp"
#include "python/result_kind.hpp"
#include "python/row.hpp"
#include "python/utf8_column.hpp"
#include "python/worker_loop.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace rowpool::python {
namespace {

using Bytes1D = nb::ndarray<nb::numpy, std::uint8_t, nb::ndim<1>>;
using ConstInt64s = nb::ndarray<const std::int64_t, nb::ndim<1>, nb::c_contig>;
using ConstBytes = nb::ndarray<const std::uint8_t, nb::ndim<1>, nb::c_contig>;

Bytes1D segment_view(nb::handle self) {
  auto& segment = nb::cast<Segment&>(self);
  std::size_t shape[1] = {segment.size()};
  // The array keeps the Segment object (and so the mapping) alive.
  return Bytes1D(segment.data(), 1, shape, self);
}

// Waits on a blocking call in slices so that Ctrl-C (a pending Python signal) is seen within a
// slice even when the signal was delivered to another thread. Each slice sleeps in poll().
constexpr int kSignalCheckMs = 100;

template <typename Attempt>
auto wait_interruptible(int timeout_ms, Attempt attempt) {
  int waited = 0;
  while (true) {
    const int slice =
        timeout_ms < 0 ? kSignalCheckMs : std::min(kSignalCheckMs, timeout_ms - waited);
    auto outcome = [&] {
      nb::gil_scoped_release release;
      return attempt(slice);
    }();
    if (outcome) return outcome;
    if (PyErr_CheckSignals() != 0) throw nb::python_error();
    waited += slice;
    if (timeout_ms >= 0 && waited >= timeout_ms) return outcome;
  }
}

nb::tuple header_tuple(const MessageHeader& h) {
  return nb::make_tuple(h.kind, h.flags, h.tag, h.arg0, h.arg1, h.payload_bytes);
}

MessageHeader make_header(std::uint32_t kind, std::uint32_t flags, std::uint64_t tag,
                          std::uint64_t arg0, std::uint64_t arg1) {
  MessageHeader h;
  h.kind = kind;
  h.flags = flags;
  h.tag = tag;
  h.arg0 = arg0;
  h.arg1 = arg1;
  return h;
}

nb::bytes read_payload(std::size_t bytes, const std::function<void(void*, std::size_t)>& read) {
  PyObject* out = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(bytes));
  if (out == nullptr) throw nb::python_error();
  nb::bytes result = nb::steal<nb::bytes>(out);
  {
    nb::gil_scoped_release release;  // nobody else can see `out` yet
    read(PyBytes_AS_STRING(out), bytes);
  }
  return result;
}

nb::object run_rows_binding(nb::handle func, nb::handle batch, nb::handle args, nb::handle kwargs,
                            bool stop_on_error, bool series_rows, nb::handle progress) {
  PyObject* out = run_rows(func.ptr(), batch.ptr(), args.ptr(), kwargs.ptr(), stop_on_error,
                           series_rows, progress.ptr());
  if (out == nullptr) throw nb::python_error();
  return nb::steal(out);
}

}  // namespace
}  // namespace rowpool::python

NB_MODULE(_core, m) {
  using namespace rowpool;
  using namespace rowpool::python;
  m.doc() = "rowpool's C++ engine (see rowpool/_core.pyi).";
  register_error_translator();
  if (!register_row_types(m.ptr())) throw nb::python_error();

  nb::enum_<ResultKind>(m, "ResultKind", nb::is_arithmetic(),
                        "How a chunk's results travel from a worker to the parent.")
      .value("EMPTY", ResultKind::kEmpty, "No values yet (or only None).")
      .value("FLOAT", ResultKind::kFloat, "float64 buffer.")
      .value("INT", ResultKind::kInt, "int64 buffer.")
      .value("BOOL", ResultKind::kBool, "bool buffer (one byte a value).")
      .value("STR", ResultKind::kStr, "A list of str.")
      .value("OBJECT", ResultKind::kObject, "A list of arbitrary objects.");
  m.attr("SEGMENT_FD") = kSegmentFd;

  nb::class_<Segment>(m, "Segment", "Shared memory behind an anonymous memfd (never in /dev/shm).")
      .def_static("create", &Segment::create, "size"_a, "debug_name"_a = "rowpool-arena",
                  "A new sealed segment of `size` bytes.")
      .def_static("attach", &Segment::attach, "fd"_a,
                  "Maps the segment behind `fd` (takes the fd).")
      .def_prop_ro("fd", &Segment::fd, "The memfd (inherited by workers).")
      .def_prop_ro("size", &Segment::size, "Size in bytes.")
      .def("view", &segment_view, "The whole segment as a writable numpy uint8 array.");

  nb::class_<Arena>(m, "Arena",
                    "Bounded allocator of 64-byte aligned blocks (offsets into a Segment).")
      .def(nb::init<std::size_t>(), "capacity"_a)
      .def("allocate", &Arena::allocate, "bytes"_a,
           "Offset of a new block, or None when the arena is full (wait for a release).")
      .def("release", &Arena::release, "offset"_a, "Frees the block at `offset`.")
      .def_prop_ro("capacity", &Arena::capacity, "Capacity in bytes.")
      .def_prop_ro("used", &Arena::used, "Bytes in use.")
      .def_prop_ro("blocks", &Arena::blocks, "Number of live blocks.");

  nb::class_<Chunk>(m, "Chunk", "Rows [begin, end) of the input.")
      .def_ro("begin", &Chunk::begin, "First row.")
      .def_ro("end", &Chunk::end, "One past the last row.")
      .def_prop_ro("rows", &Chunk::rows, "Number of rows.");

  nb::class_<Scheduler>(m, "Scheduler",
                        "Cuts the input into chunks sized from the measured row cost.")
      .def(
          "__init__",
          [](Scheduler* self, std::size_t total_rows, std::size_t workers, std::size_t fixed_rows,
             std::size_t max_rows, double target_seconds) {
            SchedulerOptions options;
            options.workers = workers;
            options.fixed_rows = fixed_rows;
            options.max_rows = max_rows;
            options.target_seconds = target_seconds;
            new (self) Scheduler(total_rows, options);
          },
          "total_rows"_a, "workers"_a, "fixed_rows"_a = 0, "max_rows"_a = 1 << 20,
          "target_seconds"_a = 0.25)
      .def("next", &Scheduler::next, "The next chunk, or None when every row is handed out.")
      .def("record", &Scheduler::record, "rows"_a, "seconds"_a,
           "Feeds back a chunk's compute time.")
      .def_prop_ro("dispatched_rows", &Scheduler::dispatched_rows, "Rows handed out so far.")
      .def_prop_ro("seconds_per_row", &Scheduler::seconds_per_row, "Measured mean cost of a row.");

  nb::class_<Supervisor>(m, "Supervisor", "Owns the worker processes and their message queues.")
      .def(nb::init<>())
      .def("spawn", &Supervisor::spawn, "argv"_a, "shared_fds"_a,
           "Spawns a worker (argv + ['--queue-fd', N]); returns its id.")
      .def(
          "send",
          [](Supervisor& s, std::uint64_t worker, std::uint32_t kind, std::uint32_t flags,
             std::uint64_t tag, std::uint64_t arg0, std::uint64_t arg1, nb::bytes payload) {
            const MessageHeader h = make_header(kind, flags, tag, arg0, arg1);
            nb::gil_scoped_release release;
            s.send(worker, h, payload.c_str(), payload.size());
          },
          "worker"_a, "kind"_a, "flags"_a, "tag"_a, "arg0"_a, "arg1"_a, "payload"_a,
          "Sends one message to a worker.")
      .def(
          "wait",
          [](Supervisor& s, int timeout_ms) -> nb::object {
            auto event = wait_interruptible(timeout_ms, [&](int slice) {
              auto e = s.wait(slice);
              return e.kind == Supervisor::Event::Kind::kTimeout
                         ? std::optional<Supervisor::Event>()
                         : std::optional(e);
            });
            if (!event) return nb::none();
            if (event->kind == Supervisor::Event::Kind::kMessage)
              return nb::make_tuple("message", event->worker, header_tuple(event->header));
            return nb::make_tuple("exited", event->worker,
                                  nb::make_tuple(event->status.exit_code, event->status.signal,
                                                 event->status.describe()));
          },
          "timeout_ms"_a = -1,
          "Waits for the next event: ('message', worker, header), ('exited', worker, (code, "
          "signal, text)) or None on timeout. Raises KeyboardInterrupt on Ctrl-C.")
      .def(
          "receive_payload",
          [](Supervisor& s, std::uint64_t worker, std::size_t bytes) {
            return read_payload(bytes,
                                [&](void* d, std::size_t n) { s.receive_payload(worker, d, n); });
          },
          "worker"_a, "bytes"_a, "Reads the payload of the message just received from `worker`.")
      .def(
          "terminate",
          [](Supervisor& s, std::uint64_t worker, int grace_ms) {
            ExitStatus status = [&] {
              nb::gil_scoped_release release;
              return s.terminate(worker, grace_ms);
            }();
            return nb::make_tuple(status.exit_code, status.signal, status.describe());
          },
          "worker"_a, "grace_ms"_a = 1000, "SIGTERM, then SIGKILL after the grace period; reaps.")
      .def(
          "shutdown",
          [](Supervisor& s, int grace_ms) {
            nb::gil_scoped_release release;
            s.shutdown(grace_ms);
          },
          "grace_ms"_a = 2000, "Closes all queues, waits, kills stragglers, reaps everything.")
      .def("close_queues", &Supervisor::close_queues,
           "Closes every queue: idle workers exit on their own (shutdown() then reaps them).")
      .def("workers", &Supervisor::workers, "Ids of the live workers.")
      .def("pid", &Supervisor::pid, "worker"_a, "Process id of a worker.")
      .def("__len__", &Supervisor::size);

  nb::class_<MessageQueue>(m, "MessageQueue", "A worker's end of its queue to the parent.")
      .def(nb::init<int>(), "fd"_a)
      .def(
          "send",
          [](MessageQueue& q, std::uint32_t kind, std::uint32_t flags, std::uint64_t tag,
             std::uint64_t arg0, std::uint64_t arg1, nb::bytes payload) {
            const MessageHeader h = make_header(kind, flags, tag, arg0, arg1);
            nb::gil_scoped_release release;
            q.send(h, payload.c_str(), payload.size());
          },
          "kind"_a, "flags"_a, "tag"_a, "arg0"_a, "arg1"_a, "payload"_a, "Sends one message.")
      .def(
          "receive",
          [](MessageQueue& q) {
            auto header =
                wait_interruptible(-1, [&](int slice) { return q.receive_header(slice); });
            nb::bytes payload = read_payload(
                header->payload_bytes, [&](void* d, std::size_t n) { q.receive_payload(d, n); });
            return nb::make_tuple(header_tuple(*header), payload);
          },
          "Blocks (GIL released) for the next message: (header, payload). Raises QueueClosed when "
          "the parent is gone.");

  m.def(
      "arm_parent_death_signal",
      [](int parent_pid) {
        // The kernel SIGKILLs us when the parent dies; the check closes the race with an early
        // death.
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) throw SystemError("prctl", errno);
        if (getppid() != parent_pid) _exit(1);
      },
      "parent_pid"_a,
      "Dies with the parent: PR_SET_PDEATHSIG plus a check that it is still alive.");

  m.def(
      "utf8_values",
      [](ConstInt64s offsets, ConstBytes valid, ConstBytes data, nb::handle missing) {
        const std::size_t rows = valid.shape(0);
        if (offsets.shape(0) != rows + 1) throw nb::value_error("need one more offset than rows");
        PyObject* values =
            utf8_values(offsets.data(), valid.data(), reinterpret_cast<const char*>(data.data()),
                        data.shape(0), rows, missing.ptr());
        if (values == nullptr) throw nb::python_error();
        return nb::steal(values);
      },
      "offsets"_a, "valid"_a, "data"_a, "missing"_a.none(),
      "The str values of an Arrow-style string column: data[offsets[i]:offsets[i+1]] decoded as "
      "UTF-8 where valid[i], else `missing`.");

  m.def("run_rows", &run_rows_binding, "func"_a, "batch"_a, "args"_a, "kwargs"_a.none(),
        "stop_on_error"_a, "series_rows"_a, "progress"_a.none() = nb::none(),
        "Calls func(row, *args, **kwargs) for every row of `batch`, storing the rows started so "
        "far in `progress` (8 writable bytes) before each call; returns (kind, payload, "
        "numpy_scalars, failures).");
}
