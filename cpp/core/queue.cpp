#include "core/queue.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

#include "core/errors.hpp"

namespace rowpool {

std::pair<MessageQueue, MessageQueue> MessageQueue::create_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    throw SystemError("socketpair", errno);
  return {MessageQueue(fds[0]), MessageQueue(fds[1])};
}

void MessageQueue::check_owner() const {
  if (::getpid() != owner_)
    throw QueueClosed("a process forked from the owner of a message queue cannot use it");
}

void MessageQueue::send(MessageHeader header, const void* payload, std::size_t payload_bytes) {
  check_owner();
  header.payload_bytes = payload_bytes;
  iovec parts[2] = {{&header, sizeof header}, {const_cast<void*>(payload), payload_bytes}};
  iovec* next = parts;
  int remaining_parts = payload_bytes > 0 ? 2 : 1;
  while (remaining_parts > 0) {
    msghdr message{};
    message.msg_iov = next;
    message.msg_iovlen = static_cast<std::size_t>(remaining_parts);
    const ssize_t written = ::sendmsg(fd_.get(), &message, MSG_NOSIGNAL);
    if (written < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) throw QueueClosed("message queue peer is gone");
      throw SystemError("sendmsg", errno);
    }
    auto left = static_cast<std::size_t>(written);
    while (remaining_parts > 0 && left >= next->iov_len) {
      left -= next->iov_len;
      ++next;
      --remaining_parts;
    }
    if (remaining_parts > 0) {
      next->iov_base = static_cast<char*>(next->iov_base) + left;
      next->iov_len -= left;
    }
  }
}

bool wait_readable(int fd, int timeout_ms) {
  pollfd entry{fd, POLLIN, 0};
  const int ready = ::poll(&entry, 1, timeout_ms);
  if (ready < 0) {
    if (errno == EINTR) return false;
    throw SystemError("poll", errno);
  }
  return ready > 0;
}

std::optional<MessageHeader> MessageQueue::receive_header(int timeout_ms) {
  check_owner();
  if (!wait_readable(fd_.get(), timeout_ms)) return std::nullopt;
  MessageHeader header;
  if (!read_exact(&header, sizeof header)) throw QueueClosed("message queue peer closed it");
  return header;
}

void MessageQueue::receive_payload(void* destination, std::size_t bytes) {
  check_owner();
  if (bytes > 0 && !read_exact(destination, bytes))
    throw ProtocolError("message queue closed before the payload arrived");
}

bool MessageQueue::read_exact(void* destination, std::size_t bytes) {
  auto* out = static_cast<char*>(destination);
  std::size_t done = 0;
  while (done < bytes) {
    const ssize_t got = ::recv(fd_.get(), out + done, bytes - done, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) break;
      throw SystemError("recv", errno);
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  if (done == bytes) return true;
  if (done == 0) return false;
  throw ProtocolError("message truncated: the peer closed the queue mid-message");
}

}  // namespace rowpool
