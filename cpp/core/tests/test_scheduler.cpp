#include <gtest/gtest.h>

#include <vector>

#include "core/scheduler.hpp"

namespace rowpool {
namespace {

std::vector<Chunk> drain(Scheduler& s, double seconds_per_row = 0.0) {
  std::vector<Chunk> chunks;
  while (auto c = s.next()) {
    chunks.push_back(*c);
    if (seconds_per_row > 0) s.record(c->rows(), seconds_per_row * c->rows());
  }
  return chunks;
}

void expect_exact_cover(const std::vector<Chunk>& chunks, std::size_t total) {
  std::size_t cursor = 0;
  for (const auto& c : chunks) {
    EXPECT_EQ(c.begin, cursor);
    EXPECT_GT(c.end, c.begin);
    cursor = c.end;
  }
  EXPECT_EQ(cursor, total);
}

}  // namespace

TEST(Scheduler, FixedRowsCoverEverythingOnce) {
  Scheduler s(1050, {.workers = 2, .fixed_rows = 100});
  auto chunks = drain(s);
  expect_exact_cover(chunks, 1050);
  ASSERT_EQ(chunks.size(), 11u);
  EXPECT_EQ(chunks.back().rows(), 50u);
}

TEST(Scheduler, EmptyInputHasNoChunks) {
  Scheduler s(0, {.workers = 2});
  EXPECT_FALSE(s.next().has_value());
}

TEST(Scheduler, GrowsChunksToTargetSeconds) {
  Scheduler s(10'000'000, {.workers = 2, .max_rows = 1 << 30, .target_seconds = 0.25});
  auto first = s.next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->rows(), 16u);
  s.record(first->rows(), first->rows() * 1e-5);  // 10 us per row
  auto second = s.next();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->rows(), 25'000u);  // 0.25 s / 10 us
}

TEST(Scheduler, ShrinksChunksAtTheTail) {
  Scheduler s(100'000, {.workers = 2, .max_rows = 1 << 30, .target_seconds = 10.0});
  auto chunks = drain(s, 1e-3);
  expect_exact_cover(chunks, 100'000);
  // Without the tail rule the second chunk would take all the rest; instead the last chunks are
  // small, so the two workers finish close together.
  EXPECT_LE(chunks[1].rows(), 100'000u / 6);
  EXPECT_LE(chunks.back().rows(), 10u);
}

TEST(Scheduler, RespectsMaxRows) {
  Scheduler s(1'000'000, {.workers = 1, .max_rows = 1000});
  auto chunks = drain(s, 1e-9);
  expect_exact_cover(chunks, 1'000'000);
  for (const auto& c : chunks) EXPECT_LE(c.rows(), 1000u);
}

}  // namespace rowpool
