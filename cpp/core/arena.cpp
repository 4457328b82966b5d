#include "core/arena.hpp"

#include <string>

#include "core/errors.hpp"

namespace rowpool {

Arena::Arena(std::size_t capacity) : capacity_(capacity / kAlignment * kAlignment) {
  if (capacity_ > 0) free_.emplace(0, capacity_);
}

std::optional<std::size_t> Arena::allocate(std::size_t bytes) {
  const std::size_t length = round_up(bytes == 0 ? 1 : bytes);
  if (length > capacity_)
    throw CapacityError("a block of " + std::to_string(bytes) + " bytes exceeds the arena of " +
                        std::to_string(capacity_) + " bytes");
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < length) continue;
    const std::size_t offset = it->first;
    const std::size_t rest = it->second - length;
    free_.erase(it);
    if (rest > 0) free_.emplace(offset + length, rest);
    allocated_.emplace(offset, length);
    used_ += length;
    return offset;
  }
  return std::nullopt;
}

void Arena::release(std::size_t offset) {
  auto found = allocated_.find(offset);
  if (found == allocated_.end())
    throw Error("arena release of unknown block at offset " + std::to_string(offset));
  std::size_t start = offset;
  std::size_t length = found->second;
  allocated_.erase(found);
  used_ -= length;

  auto next = free_.lower_bound(start);
  if (next != free_.end() && start + length == next->first) {
    length += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      start = prev->first;
      length += prev->second;
      free_.erase(prev);
    }
  }
  free_.emplace(start, length);
}

}  // namespace rowpool
