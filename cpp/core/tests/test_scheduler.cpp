#include <gtest/gtest.h>

#include <vector>

#include "core/scheduler.hpp"

namespace rowpool {
namespace {

std::vector<Chunk> drain(Scheduler& s, double seconds_per_row = 0.0, double fixed_seconds = 0.0) {
  std::vector<Chunk> chunks;
  while (auto c = s.next()) {
    chunks.push_back(*c);
    if (seconds_per_row > 0) s.record(c->rows(), fixed_seconds + seconds_per_row * c->rows());
  }
  return chunks;
}

// Drains with every chunk costing `fixed_seconds` plus, per row, `row_seconds(row)`.
template <typename RowSeconds>
std::vector<Chunk> drain_costing(Scheduler& s, double fixed_seconds, RowSeconds row_seconds) {
  std::vector<Chunk> chunks;
  while (auto c = s.next()) {
    chunks.push_back(*c);
    double seconds = fixed_seconds;
    for (std::size_t row = c->begin; row < c->end; ++row) seconds += row_seconds(row);
    s.record(c->rows(), seconds);
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

TEST(Scheduler, MaxRowsChangedDuringAJobBoundsTheChunksAfter) {
  Scheduler s(1'000'000, {.workers = 1, .max_rows = 1000});
  s.record(1000, 1e-6);
  ASSERT_EQ(s.next()->rows(), 1000u);
  s.set_max_rows(50'000);
  EXPECT_EQ(s.max_rows(), 50'000u);
  EXPECT_EQ(s.next()->rows(), 50'000u);
  s.set_max_rows(0);  // never below one row
  EXPECT_EQ(s.next()->rows(), 1u);
}

TEST(Scheduler, FitsFixedCostApartFromPerRowCost) {
  Scheduler s(1'000'000, {.workers = 2});
  EXPECT_EQ(s.cost().fixed, 0.0);
  EXPECT_EQ(s.cost().per_row, 0.0);
  s.record(16, 0.5 + 16 * 2e-4);
  // One chunk length only: fixed and per-row cost cannot be told apart; all of it is per row.
  EXPECT_EQ(s.cost().fixed, 0.0);
  EXPECT_NEAR(s.cost().per_row, (0.5 + 16 * 2e-4) / 16, 1e-12);
  s.record(8, 0.5 + 8 * 2e-4);
  s.record(400, 0.5 + 400 * 2e-4);
  EXPECT_NEAR(s.cost().fixed, 0.5, 1e-9);
  EXPECT_NEAR(s.cost().per_row, 2e-4, 1e-12);
}

TEST(Scheduler, FixedChunkCostGrowsChunksInsteadOfShrinkingThem) {
  // Issue 17: a wide frame whose chunks cost 0.5 s to set up and 0.25 ms per row. Counting the
  // set-up as per-row cost made chunks of 5-16 rows, paying the 0.5 s ~150 times for 2,000 rows.
  Scheduler s(2000, {.workers = 2, .max_rows = 1 << 30});
  auto chunks = drain(s, 2.5e-4, 0.5);
  expect_exact_cover(chunks, 2000);
  // Two chunks to tell the costs apart (16 rows, then 8 from the per-row view of the first), then
  // one chunk per worker: the 2,000 rows amortizing the fixed cost are capped at an even share.
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(chunks[1].rows(), 8u);
  EXPECT_EQ(chunks[2].rows(), 1000u);
  EXPECT_NEAR(s.cost().fixed, 0.5, 1e-9);
  EXPECT_NEAR(s.cost().per_row, 2.5e-4, 1e-12);
}

TEST(Scheduler, FixedChunkCostStillTargetsSecondsOfWork) {
  // Cheap set-up, many rows: chunks carry target_seconds of per-row work, as without a fixed cost.
  Scheduler s(10'000'000, {.workers = 2, .max_rows = 1 << 30, .target_seconds = 0.25});
  s.record(16, 0.01 + 16 * 1e-5);
  s.record(1000, 0.01 + 1000 * 1e-5);
  auto chunk = s.next();
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(chunk->rows(), 25'000u);  // 0.25 s / 10 us; 1,000 rows would amortize the 10 ms
}

TEST(Scheduler, RowsGettingSlowerInventNoFixedCost) {
  // Skew: 1 ms rows, then the last 2% at 100 ms. Small late chunks are slow because of their
  // rows, not a fixed cost: the tail must still be split down to single rows.
  Scheduler s(4000, {.workers = 2, .max_rows = 1 << 30});
  auto chunks = drain_costing(s, 1e-4, [](std::size_t row) { return row < 3920 ? 1e-3 : 0.1; });
  expect_exact_cover(chunks, 4000);
  EXPECT_LE(chunks.back().rows(), 1u);
  for (const auto& c : chunks) {
    if (c.begin >= 3920) {
      EXPECT_LE(c.rows(), 80u / 6 + 1);  // the fair share of the slow rows
    }
  }
}

TEST(Scheduler, TimeNotGrowingWithRowsGrowsChunksToTheTailShare) {
  // All cost is per chunk (a slope <= 0): splitting finer only repeats the fixed cost.
  Scheduler s(1000, {.workers = 2, .max_rows = 1 << 30});
  s.record(16, 0.3);
  s.record(8, 0.31);
  EXPECT_EQ(s.cost().per_row, 0.0);
  EXPECT_NEAR(s.cost().fixed, 0.3, 1e-12);
  auto chunk = s.next();
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(chunk->rows(), 1000u / 6);  // the tail's fair share: nothing measured says otherwise
}

}  // namespace rowpool
