#include <gtest/gtest.h>

#include "core/arena.hpp"
#include "core/errors.hpp"

namespace rowpool {

TEST(Arena, AlignsEveryBlockTo64Bytes) {
  Arena arena(4096);
  auto a = arena.allocate(1);
  auto b = arena.allocate(100);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a % 64, 0u);
  EXPECT_EQ(*b % 64, 0u);
  EXPECT_EQ(*b - *a, 64u);
  EXPECT_EQ(arena.used(), 64u + 128u);
}

TEST(Arena, ReportsFullInsteadOfOvercommitting) {
  Arena arena(1024);
  auto a = arena.allocate(512);
  auto b = arena.allocate(512);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(arena.allocate(64).has_value());
  arena.release(*a);
  EXPECT_TRUE(arena.allocate(64).has_value());
}

TEST(Arena, CoalescesNeighboursOnRelease) {
  Arena arena(64 * 4);
  auto a = arena.allocate(64), b = arena.allocate(64), c = arena.allocate(64);
  ASSERT_TRUE(a && b && c);
  arena.release(*a);
  arena.release(*c);
  EXPECT_FALSE(arena.allocate(64 * 3).has_value());  // fragmented: a | b | c+rest
  arena.release(*b);
  auto whole = arena.allocate(64 * 4);
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(*whole, 0u);
  EXPECT_EQ(arena.blocks(), 1u);
}

TEST(Arena, RejectsBlocksLargerThanCapacity) {
  Arena arena(1024);
  EXPECT_THROW(arena.allocate(2048), CapacityError);
}

TEST(Arena, RejectsUnknownRelease) {
  Arena arena(1024);
  EXPECT_THROW(arena.release(128), Error);
}

TEST(Arena, RandomAllocateReleaseKeepsAccounting) {
  Arena arena(1 << 16);
  std::vector<std::size_t> live;
  unsigned state = 12345;
  for (int step = 0; step < 5000; ++step) {
    state = state * 1103515245u + 12345u;
    if ((state >> 16) % 3 != 0 || live.empty()) {
      if (auto block = arena.allocate((state >> 8) % 3000)) live.push_back(*block);
    } else {
      const std::size_t i = (state >> 4) % live.size();
      arena.release(live[i]);
      live.erase(live.begin() + static_cast<long>(i));
    }
  }
  for (auto block : live) arena.release(block);
  EXPECT_EQ(arena.used(), 0u);
  EXPECT_TRUE(arena.allocate(1 << 16).has_value());
}

}  // namespace rowpool
