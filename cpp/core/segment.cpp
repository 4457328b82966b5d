#include "core/segment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <utility>

#include "core/errors.hpp"

namespace rowpool {
namespace {

std::byte* map_shared(int fd, std::size_t size) {
  if (size == 0) return nullptr;
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw SystemError("mmap", errno);
  return static_cast<std::byte*>(p);
}

}  // namespace

Segment Segment::create(std::size_t size, const char* debug_name) {
  UniqueFd fd(::memfd_create(debug_name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) throw SystemError("memfd_create", errno);
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) throw SystemError("ftruncate", errno);
  // Sealing the size means no process can shrink it under another's mapping (which would SIGBUS).
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
    throw SystemError("fcntl(F_ADD_SEALS)", errno);
  std::byte* data = map_shared(fd.get(), size);
  return Segment(std::move(fd), data, size);
}

Segment Segment::attach(int raw_fd) {
  UniqueFd fd(raw_fd);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) throw SystemError("fstat", errno);
  const auto size = static_cast<std::size_t>(st.st_size);
  std::byte* data = map_shared(fd.get(), size);
  return Segment(std::move(fd), data, size);
}

Segment::Segment(UniqueFd fd, std::byte* data, std::size_t size) noexcept
    : fd_(std::move(fd)), data_(data), size_(size) {}

Segment::Segment(Segment&& other) noexcept
    : fd_(std::move(other.fd_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

Segment& Segment::operator=(Segment&& other) noexcept {
  if (this != &other) {
    unmap();
    fd_ = std::move(other.fd_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Segment::~Segment() { unmap(); }

void Segment::unmap() noexcept {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace rowpool
