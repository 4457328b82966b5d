#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "core/segment.hpp"

namespace rowpool {

TEST(Segment, IsSharedWithAChildThroughItsFd) {
  Segment segment = Segment::create(1 << 20);
  ASSERT_EQ(segment.size(), 1u << 20);
  std::memset(segment.data(), 0, 16);
  const pid_t child = fork();
  if (child == 0) {
    Segment view = Segment::attach(dup(segment.fd()));
    std::memcpy(view.data(), "hello", 6);
    _exit(view.size() == (1u << 20) ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_STREQ(reinterpret_cast<const char*>(segment.data()), "hello");
}

TEST(Segment, LeavesNothingInDevShm) {
  auto count = [] {
    std::size_t n = 0;
    for ([[maybe_unused]] auto& entry : std::filesystem::directory_iterator("/dev/shm")) ++n;
    return n;
  };
  const std::size_t before = count();
  Segment segment = Segment::create(1 << 16);
  EXPECT_EQ(count(), before);
}

TEST(Segment, IsSealedAgainstResizing) {
  Segment segment = Segment::create(1 << 16);
  EXPECT_NE(ftruncate(segment.fd(), 0), 0);
  EXPECT_NE(ftruncate(segment.fd(), 1 << 20), 0);
}

TEST(Segment, MoveTransfersOwnership) {
  Segment a = Segment::create(4096);
  std::byte* data = a.data();
  Segment b = std::move(a);
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(a.fd(), -1);
}

}  // namespace rowpool
