// MessageQueue bindings: a worker's end of its queue (worker process, main thread).
#include <nanobind/stl/optional.h>

#include "core/queue.hpp"
#include "python/bindings.hpp"
#include "python/gil.hpp"
#include "python/messages.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace rowpool::python {

void bind_queue(nb::module_& m) {
  nb::class_<MessageQueue>(m, "MessageQueue", "A worker's end of its queue to the parent.")
      .def(nb::init<int>(), "fd"_a)
      .def(
          "send",
          [](MessageQueue& q, std::uint32_t kind, std::uint32_t flags, std::uint64_t tag,
             std::uint64_t arg0, std::uint64_t arg1, nb::bytes payload) {
            const MessageHeader h = make_header(kind, flags, tag, arg0, arg1);
            without_gil([&] { q.send(h, payload.c_str(), payload.size()); });
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
}

}  // namespace rowpool::python
