#include <cstring>

#include "core/errors.hpp"

namespace rowpool {

SystemError::SystemError(const std::string& call, int code)
    : Error(call + " failed: " + std::strerror(code)), code_(code) {}

}  // namespace rowpool
