#include "core/scheduler.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"

namespace rowpool {

Scheduler::Scheduler(std::size_t total_rows, SchedulerOptions options)
    : total_(total_rows), options_(options) {
  if (options_.workers == 0) throw Error("scheduler needs at least one worker");
  options_.max_rows = std::max<std::size_t>(options_.max_rows, 1);
  options_.first_rows = std::max<std::size_t>(options_.first_rows, 1);
  options_.tail_chunks_per_worker = std::max<std::size_t>(options_.tail_chunks_per_worker, 1);
}

double Scheduler::seconds_per_row() const noexcept {
  return measured_rows_ == 0 ? 0.0 : measured_seconds_ / static_cast<double>(measured_rows_);
}

std::size_t Scheduler::auto_rows() const {
  const std::size_t remaining = total_ - cursor_;
  std::size_t rows = options_.first_rows;
  const double per_row = seconds_per_row();
  if (measured_rows_ > 0) {
    rows = per_row <= 0.0 ? options_.max_rows
                          : static_cast<std::size_t>(
                                std::min(1e15, std::ceil(options_.target_seconds / per_row)));
  }
  // Tail: never hand one worker more than its fair share of what is left, so all finish together.
  const std::size_t fair = remaining / (options_.workers * options_.tail_chunks_per_worker);
  rows = std::min(rows, std::max<std::size_t>(fair, 1));
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
  measured_rows_ += rows;
  measured_seconds_ += std::max(seconds, 0.0);
}

}  // namespace rowpool
