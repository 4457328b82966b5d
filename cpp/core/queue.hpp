// MessageQueue: one end of a stream socketpair carrying framed messages between the parent and one
// worker. Tasks flow parent -> worker, completions worker -> parent, each a fixed header plus an
// optional payload. Blocking waits sleep in poll(2); nothing spins. Owns its fd (close-on-exec).
// One thread may send while another receives; two concurrent senders (or receivers) are not
// allowed. Only the process that made it may use it: in a process forked from that one (a user's
// function calling fork()) every use throws QueueClosed, so a fork never speaks for its parent.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

#include "core/unique_fd.hpp"

namespace rowpool {

struct MessageHeader {
  std::uint32_t kind = 0;   // meaning defined by the protocol user (rowpool._protocol)
  std::uint32_t flags = 0;  // likewise
  std::uint64_t tag = 0;    // e.g. the chunk id the message is about
  std::uint64_t arg0 = 0;
  std::uint64_t arg1 = 0;
  std::uint64_t payload_bytes = 0;
};
static_assert(sizeof(MessageHeader) == 40);

class MessageQueue {
 public:
  // A connected pair: (parent end, worker end). Both ends are close-on-exec.
  static std::pair<MessageQueue, MessageQueue> create_pair();

  MessageQueue() = default;
  explicit MessageQueue(int fd) noexcept : fd_(fd), owner_(::getpid()) {}

  // Sends header (with header.payload_bytes taken from `payload_bytes`) then the payload.
  // Blocks until written; throws QueueClosed if the peer is gone.
  void send(MessageHeader header, const void* payload, std::size_t payload_bytes);
  // Waits up to `timeout_ms` (-1: forever) for the next header. nullopt on timeout or when a signal
  // interrupted the wait (the caller checks for pending signals and calls again).
  // Throws QueueClosed on EOF at a message boundary, ProtocolError on a truncated header.
  std::optional<MessageHeader> receive_header(int timeout_ms);
  // Reads exactly `bytes` bytes of the payload announced by the last header.
  void receive_payload(void* destination, std::size_t bytes);

  int fd() const noexcept { return fd_.get(); }
  bool valid() const noexcept { return fd_.valid(); }
  void close() noexcept { fd_.reset(); }

 private:
  // Reads exactly `bytes`; returns false on EOF before the first byte.
  bool read_exact(void* destination, std::size_t bytes);
  // Throws QueueClosed in a process forked from the owner.
  void check_owner() const;

  UniqueFd fd_;
  pid_t owner_ = -1;
};

// Waits until `fd` is readable or `timeout_ms` passes. Returns false on timeout or EINTR.
bool wait_readable(int fd, int timeout_ms);

}  // namespace rowpool
