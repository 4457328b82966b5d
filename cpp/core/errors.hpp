// Every exception the engine throws. cpp/python/errors.cpp is the one place that turns them into
// Python exceptions (rowpool.errors); nothing else in the engine throws other types on purpose.
#pragma once

#include <stdexcept>
#include <string>

namespace rowpool {

// Base of all engine errors.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A system call failed; `code()` is the errno it left.
class SystemError : public Error {
 public:
  SystemError(const std::string& call, int code);
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// The peer of a message queue went away (EOF or EPIPE): the other process exited or closed it.
class QueueClosed : public Error {
 public:
  using Error::Error;
};

// A message broke the wire protocol (bad size, truncated payload).
class ProtocolError : public Error {
 public:
  using Error::Error;
};

// A request that can never be satisfied by the configured limits (e.g. a chunk larger than the
// arena).
class CapacityError : public Error {
 public:
  using Error::Error;
};

}  // namespace rowpool
