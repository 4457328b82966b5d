// Segment: shared memory backed by an anonymous memfd (never a name in /dev/shm), mapped shared.
// Owns the fd and the mapping. The parent creates it; workers attach to the inherited fd. The
// kernel frees the memory when the last fd and mapping are gone, also after SIGKILL. Move-only.
#pragma once

#include <cstddef>

#include "core/unique_fd.hpp"

namespace rowpool {

class Segment {
 public:
  // Creates a sealed (fixed-size) segment of `size` bytes. Pages are allocated on first touch.
  static Segment create(std::size_t size, const char* debug_name = "rowpool-arena");
  // Maps the whole segment behind `fd` (taking ownership of the fd).
  static Segment attach(int fd);

  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&& other) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  int fd() const noexcept { return fd_.get(); }
  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  Segment(UniqueFd fd, std::byte* data, std::size_t size) noexcept;
  void unmap() noexcept;

  UniqueFd fd_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace rowpool
