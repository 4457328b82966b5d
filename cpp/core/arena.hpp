// Arena: the bookkeeping of a bounded region (a Segment) cut into 64-byte aligned blocks. Its
// capacity is the in-flight memory budget: when allocate() fails, the producer must wait for a
// release(). It only hands out offsets and owns no memory. Used by the parent process only; not
// thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <unordered_map>

namespace rowpool {

class Arena {
 public:
  static constexpr std::size_t kAlignment = 64;

  explicit Arena(std::size_t capacity);

  // Offset of a new block of at least `bytes` bytes, or nullopt when no free range is large enough.
  // Throws CapacityError when `bytes` exceeds the whole capacity (waiting could never help).
  std::optional<std::size_t> allocate(std::size_t bytes);
  // Returns the block starting at `offset` (as returned by allocate) to the free space.
  void release(std::size_t offset);

  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t used() const noexcept { return used_; }
  std::size_t blocks() const noexcept { return allocated_.size(); }

  static std::size_t round_up(std::size_t bytes) noexcept {
    return (bytes + kAlignment - 1) / kAlignment * kAlignment;
  }

 private:
  std::size_t capacity_;
  std::size_t used_ = 0;
  std::map<std::size_t, std::size_t> free_;  // offset -> length, coalesced, sorted by offset
  std::unordered_map<std::size_t, std::size_t> allocated_;  // offset -> length
};

}  // namespace rowpool
