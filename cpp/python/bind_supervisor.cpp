// Supervisor bindings (parent process, one thread at a time) and the worker's parent-death signal.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core/errors.hpp"
#include "core/supervisor.hpp"
#include "python/bindings.hpp"
#include "python/gil.hpp"
#include "python/messages.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace rowpool::python {
namespace {

nb::tuple status_tuple(const ExitStatus& status) {
  return nb::make_tuple(status.exit_code, status.signal, status.describe());
}

nb::object wait_event(Supervisor& s, int timeout_ms) {
  auto event = wait_interruptible(timeout_ms, [&](int slice) {
    auto e = s.wait(slice);
    return e.kind == Supervisor::Event::Kind::kTimeout ? std::optional<Supervisor::Event>()
                                                       : std::optional(e);
  });
  if (!event) return nb::none();
  if (event->kind == Supervisor::Event::Kind::kMessage)
    return nb::make_tuple("message", event->worker, header_tuple(event->header));
  return nb::make_tuple("exited", event->worker, status_tuple(event->status));
}

}  // namespace

void bind_supervisor(nb::module_& m) {
  nb::class_<Supervisor>(m, "Supervisor", "Owns the worker processes and their message queues.")
      .def(nb::init<>())
      .def("spawn", &Supervisor::spawn, "argv"_a, "shared_fds"_a,
           "Spawns a worker (argv + ['--queue-fd', N]); returns its id.")
      .def(
          "send",
          [](Supervisor& s, std::uint64_t worker, std::uint32_t kind, std::uint32_t flags,
             std::uint64_t tag, std::uint64_t arg0, std::uint64_t arg1, nb::bytes payload) {
            const MessageHeader h = make_header(kind, flags, tag, arg0, arg1);
            without_gil([&] { s.send(worker, h, payload.c_str(), payload.size()); });
          },
          "worker"_a, "kind"_a, "flags"_a, "tag"_a, "arg0"_a, "arg1"_a, "payload"_a,
          "Sends one message to a worker.")
      .def("wait", &wait_event, "timeout_ms"_a = -1,
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
            return status_tuple(without_gil([&] { return s.terminate(worker, grace_ms); }));
          },
          "worker"_a, "grace_ms"_a = 1000, "SIGTERM, then SIGKILL after the grace period; reaps.")
      .def(
          "shutdown",
          [](Supervisor& s, int grace_ms) { without_gil([&] { s.shutdown(grace_ms); }); },
          "grace_ms"_a = 2000, "Closes all queues, waits, kills stragglers, reaps everything.")
      .def(
          "stop_all",
          [](Supervisor& s, int grace_ms) { without_gil([&] { s.stop_all(grace_ms); }); },
          "grace_ms"_a = 100,
          "Ends every worker and what it started at once: SIGTERM, one shared grace period, "
          "SIGKILL; reaps everything.")
      .def("close_queues", &Supervisor::close_queues,
           "Closes every queue: idle workers exit on their own (shutdown() then reaps them).")
      .def("workers", &Supervisor::workers, "Ids of the live workers.")
      .def("pid", &Supervisor::pid, "worker"_a, "Process id of a worker.")
      .def("__len__", &Supervisor::size);

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
}

}  // namespace rowpool::python
