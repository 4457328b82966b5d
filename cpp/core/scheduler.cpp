#include "core/scheduler.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"

namespace rowpool {
namespace {

// Rows as a count, rounding up; saturates far below SIZE_MAX.
std::size_t rows_for(double rows) {
  return static_cast<std::size_t>(std::min(1e15, std::ceil(std::max(rows, 0.0))));
}

}  // namespace

Scheduler::Scheduler(std::size_t total_rows, SchedulerOptions options)
    : total_(total_rows), options_(options) {
  if (options_.workers == 0) throw Error("scheduler needs at least one worker");
  options_.max_rows = std::max<std::size_t>(options_.max_rows, 1);
  options_.first_rows = std::max<std::size_t>(options_.first_rows, 1);
  options_.tail_chunks_per_worker = std::max<std::size_t>(options_.tail_chunks_per_worker, 1);
  options_.cost_decay = std::clamp(options_.cost_decay, 0.0, 1.0);
}

// Weighted least squares of seconds against rows over the recorded chunks. Guarded so that a fit
// the data cannot support never invents a fixed cost: chunks of one length only, or a negative
// intercept (noise, or rows that got cheaper), give the plain average cost per row; and the fixed
// cost is never above the fastest chunk. Time that does not grow with the rows (a slope <= 0: the
// chunks' fixed cost drowns their rows' cost, or rows got cheaper) gives per_row 0, so chunks
// grow up to the tail's limit.
ChunkCost Scheduler::cost() const noexcept {
  if (chunks_ <= 0.0 || sum_rows_ <= 0.0) return {};
  const ChunkCost average{0.0, sum_seconds_ / sum_rows_};
  const double mean_rows = sum_rows_ / chunks_;
  const double mean_seconds = sum_seconds_ / chunks_;
  const double variance = sum_rows_squared_ / chunks_ - mean_rows * mean_rows;
  if (variance <= 1e-9 * mean_rows * mean_rows) return average;
  const double slope = (sum_rows_seconds_ / chunks_ - mean_rows * mean_seconds) / variance;
  if (slope <= 0.0) return {std::min(mean_seconds, min_seconds_), 0.0};
  const double intercept = mean_seconds - slope * mean_rows;
  if (intercept <= 0.0) return average;
  const double fixed = std::min(intercept, min_seconds_);
  return {fixed, (sum_seconds_ - chunks_ * fixed) / sum_rows_};
}

std::size_t Scheduler::auto_rows() const {
  const std::size_t remaining = total_ - cursor_;
  std::size_t rows = options_.first_rows;
  // A chunk never gets so few rows that its fixed cost is more than its rows' work, even at the
  // tail (but no more than an even share of all rows, so every worker still gets some).
  std::size_t amortizing = 0;
  if (chunks_ > 0.0) {
    const ChunkCost model = cost();
    if (model.per_row <= 0.0) {
      rows = options_.max_rows;
    } else {
      rows = rows_for(options_.target_seconds / model.per_row);
      amortizing = rows_for(model.fixed / model.per_row);
      rows = std::max(rows, amortizing);
    }
  }
  // Tail: never hand one worker more than its fair share of what is left, so all finish together.
  const std::size_t fair = remaining / (options_.workers * options_.tail_chunks_per_worker);
  const std::size_t even = (total_ + options_.workers - 1) / options_.workers;
  rows = std::min(rows, std::max({fair, std::min(amortizing, even), std::size_t{1}}));
  return std::clamp<std::size_t>(rows, 1, options_.max_rows);
}

std::optional<Chunk> Scheduler::next() {
  if (cursor_ >= total_) return std::nullopt;
  const std::size_t wanted = options_.fixed_rows > 0 ? options_.fixed_rows : auto_rows();
  Chunk chunk{cursor_, std::min(total_, cursor_ + wanted)};
  cursor_ = chunk.end;
  return chunk;
}

void Scheduler::record(std::size_t rows, double seconds) {
  if (rows == 0) return;
  seconds = std::max(seconds, 0.0);
  const double n = static_cast<double>(rows);
  min_seconds_ = chunks_ == 0.0 ? seconds : std::min(min_seconds_, seconds);
  const double decay = options_.cost_decay;
  chunks_ = chunks_ * decay + 1.0;
  sum_rows_ = sum_rows_ * decay + n;
  sum_seconds_ = sum_seconds_ * decay + seconds;
  sum_rows_squared_ = sum_rows_squared_ * decay + n * n;
  sum_rows_seconds_ = sum_rows_seconds_ * decay + n * seconds;
}

}  // namespace rowpool
